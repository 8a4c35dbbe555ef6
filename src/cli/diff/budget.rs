//! A Markdown report cut to a size: sections are added while they fit, a section
//! that does not is cut at a line boundary (if enough room is left to be worth it) or
//! left out, and a closing note says what was left out. The result never exceeds the
//! limit (a GitHub comment holds 65536 characters).

/// Room kept for the closing note.
const NOTE_ROOM: usize = 400;
/// A cut section keeps at least this much, or it is left out.
const MIN_CUT: usize = 800;

/// A report being assembled under a byte limit.
pub struct Budget {
    text: String,
    limit: usize,
    omitted: Vec<String>,
    cut: Vec<String>,
}

impl Budget {
    /// An empty report of at most `limit` bytes.
    pub fn new(limit: usize) -> Budget {
        Budget {
            text: String::new(),
            limit,
            omitted: Vec::new(),
            cut: Vec::new(),
        }
    }

    fn room(&self) -> usize {
        self.limit.saturating_sub(NOTE_ROOM + self.text.len())
    }

    /// Add `head`, `body` and `tail` whole if they fit; else `head`, as much of `body`
    /// as fits (whole lines) and `tail`; else nothing. `name` is what the note calls it.
    pub fn section(&mut self, name: &str, head: &str, body: &str, tail: &str) {
        let room = self.room();
        if head.len() + body.len() + tail.len() <= room {
            self.text.push_str(head);
            self.text.push_str(body);
            self.text.push_str(tail);
            return;
        }
        let marker = "… (cut: the report is limited in size)\n";
        let fixed = head.len() + tail.len() + marker.len();
        if room >= fixed + MIN_CUT {
            let keep = room - fixed;
            let mut end = 0;
            for (i, _) in body.match_indices('\n') {
                if i + 1 > keep {
                    break;
                }
                end = i + 1;
            }
            self.text.push_str(head);
            self.text.push_str(&body[..end]);
            self.text.push_str(marker);
            self.text.push_str(tail);
            self.cut.push(name.to_string());
        } else {
            self.omitted.push(name.to_string());
        }
    }

    /// The report, with a note on what was cut or left out.
    pub fn finish(mut self, hint: &str) -> String {
        if !self.omitted.is_empty() || !self.cut.is_empty() {
            let mut note = format!("\n> **Note:** this report is cut to {} bytes: ", self.limit);
            if !self.cut.is_empty() {
                note.push_str(&format!("{} section(s) shortened", self.cut.len()));
            }
            if !self.omitted.is_empty() {
                if !self.cut.is_empty() {
                    note.push_str(", ");
                }
                note.push_str(&format!("{} section(s) left out", self.omitted.len()));
            }
            note.push_str(&format!(". {hint}\n"));
            if self.text.len() + note.len() > self.limit {
                note.truncate(self.limit.saturating_sub(self.text.len()));
            }
            self.text.push_str(&note);
        }
        self.text
    }
}

/// Escape text for a Markdown table cell or inline text.
pub fn md_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '|' | '\\' | '`' | '*' | '_' | '<' | '>' | '[' | ']' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code fence longer than any run of backticks in `body`.
pub fn fence(body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}
