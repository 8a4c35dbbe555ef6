//! Source files and spans: every diagnostic and every IR object points back here.
//!
//! A [`Span`] is a byte range in one [`SourceFile`]; line and column (1-based, columns
//! counted in characters) are computed on demand from the file's line index.
//!
//! A file has two names: `name`, the path as typed, which diagnostics show (they are
//! for the terminal, where that path opens the file), and `path`, relative to the
//! repository root ([`crate::frontend::root`]), which artifacts carry
//! ([`Sources::locate_in_repo`]), so their bytes do not depend on the checkout.

use std::fmt;

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

impl SourceId {
    /// The pseudo-file of things Calico defines itself (built-in tiers and profiles).
    pub const BUILTIN: SourceId = SourceId(u32::MAX);
}

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// The file.
    pub file: SourceId,
    /// First byte.
    pub start: u32,
    /// One past the last byte (equal to `start` for a point).
    pub end: u32,
}

impl Span {
    /// A span covering `start..end` in `file`.
    pub fn new(file: SourceId, start: usize, end: usize) -> Span {
        let clamp = |x: usize| u32::try_from(x).unwrap_or(u32::MAX);
        Span {
            file,
            start: clamp(start),
            end: clamp(end.max(start)),
        }
    }
}

/// One input file (or standard input) and its text.
#[derive(Debug)]
pub struct SourceFile {
    /// The name shown in diagnostics: the path as given, or `<stdin>`.
    pub name: String,
    /// The path relative to the repository root, `/`-separated (equal to `name` for
    /// files not read from disk): the name artifacts carry.
    pub path: String,
    /// The whole text.
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// A file with its line index, its repository path equal to its name.
    pub fn new(name: String, text: String) -> SourceFile {
        SourceFile::at(name.clone(), name, text)
    }

    /// A file with both names and its line index.
    pub fn at(name: String, path: String, text: String) -> SourceFile {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceFile {
            name,
            path,
            text,
            line_starts,
        }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.line_starts.partition_point(|&s| s <= offset).max(1)
    }

    /// Byte range of a 1-based line, without its line break.
    pub fn line_range(&self, line: usize) -> std::ops::Range<usize> {
        let start = self
            .line_starts
            .get(line.saturating_sub(1))
            .copied()
            .unwrap_or(self.text.len());
        let end = self
            .line_starts
            .get(line)
            .map_or(self.text.len(), |e| e.saturating_sub(1));
        let end = end.max(start);
        let end = if self.text[start..end].ends_with('\r') {
            end - 1
        } else {
            end
        };
        start..end
    }

    /// Byte offset of the start of a 1-based line.
    pub fn line_start(&self, line: usize) -> usize {
        self.line_range(line).start
    }

    /// 1-based (line, column) of a byte offset; the column counts characters.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.line_start(line);
        let col = self
            .text
            .get(start..offset)
            .map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }

    /// Byte offset of a 1-based (line, column) position, columns in characters.
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let range = self.line_range(line);
        let text = &self.text[range.clone()];
        let within = text
            .char_indices()
            .nth(col.saturating_sub(1))
            .map_or(text.len(), |(i, _)| i);
        range.start + within
    }
}

/// Every file read in one run, in reading order.
#[derive(Debug, Default)]
pub struct Sources {
    files: Vec<SourceFile>,
}

impl Sources {
    /// Add a file and return its id.
    pub fn add(&mut self, name: String, text: String) -> SourceId {
        self.add_at(name.clone(), name, text)
    }

    /// Add a file with its repository path (see [`SourceFile::path`]) and return its id.
    pub fn add_at(&mut self, name: String, path: String, text: String) -> SourceId {
        self.files.push(SourceFile::at(name, path, text));
        SourceId(u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX))
    }

    /// The file with this id ([`SourceId::BUILTIN`] is an empty `<built-in>` file).
    pub fn get(&self, id: SourceId) -> &SourceFile {
        static BUILTIN: std::sync::LazyLock<SourceFile> =
            std::sync::LazyLock::new(|| SourceFile::new("<built-in>".into(), String::new()));
        self.files.get(id.0 as usize).unwrap_or(&BUILTIN)
    }

    /// All files, in reading order.
    pub fn iter(&self) -> impl Iterator<Item = (SourceId, &SourceFile)> {
        self.files
            .iter()
            .enumerate()
            .map(|(i, f)| (SourceId(i as u32), f))
    }

    /// `name:line:col` of a span's start, the file as typed (for diagnostics).
    pub fn locate(&self, span: Span) -> Location<'_> {
        let file = self.get(span.file);
        let (line, column) = file.line_col(span.start as usize);
        Location {
            file: &file.name,
            line,
            column,
        }
    }

    /// `path:line:col` of a span's start, the file relative to the repository root
    /// (for artifacts: the same bytes from any checkout).
    pub fn locate_in_repo(&self, span: Span) -> Location<'_> {
        Location {
            file: &self.get(span.file).path,
            ..self.locate(span)
        }
    }
}

/// A resolved position for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location<'a> {
    /// File name as shown to the user.
    pub file: &'a str,
    /// 1-based line.
    pub line: usize,
    /// 1-based column in characters.
    pub column: usize,
}

impl fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}
