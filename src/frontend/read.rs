//! Reading one input: only regular files (a FIFO, device or socket, also behind a
//! symbolic link, is never opened for reading, so it can neither hang polc nor feed it
//! without end), at most [`MAX_FILE_BYTES`] of it, and only UTF-8 text, whose first
//! invalid byte is reported as `path:line:col`. Standard input gets the same cap
//! through `Read::take`, so an endless stream ends with an error at once.

use std::fs::{Metadata, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::InputError;

/// The largest input file (or standard input) polc reads: 64 MiB.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// Why a path is not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRegular {
    /// A named pipe.
    Fifo,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// A folder where a file was expected (a `*.yaml` symbolic link to a folder).
    Folder,
}

impl NotRegular {
    /// What it is, in words.
    pub fn describe(self) -> &'static str {
        match self {
            NotRegular::Fifo => "a named pipe (FIFO)",
            NotRegular::CharDevice => "a character device",
            NotRegular::BlockDevice => "a block device",
            NotRegular::Socket => "a socket",
            NotRegular::Folder => "a folder",
        }
    }
}

/// The kind of a non-regular file, or `None` for a regular one.
pub fn not_regular(meta: &Metadata) -> Option<NotRegular> {
    let ft = meta.file_type();
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some(NotRegular::Folder)
    } else if ft.is_fifo() {
        Some(NotRegular::Fifo)
    } else if ft.is_block_device() {
        Some(NotRegular::BlockDevice)
    } else if ft.is_socket() {
        Some(NotRegular::Socket)
    } else {
        Some(NotRegular::CharDevice)
    }
}

/// What reading a path found.
pub enum Contents {
    /// The text.
    Text(String),
    /// Not a regular file: nothing was read.
    Skipped(NotRegular),
}

/// Read the file at `path` (following symbolic links) if it is a regular file.
pub fn read_file(path: &Path) -> Result<Contents, InputError> {
    let cannot = |e: std::io::Error| InputError(format!("cannot read `{}`: {e}", path.display()));
    let meta = std::fs::metadata(path).map_err(cannot)?;
    if let Some(kind) = not_regular(&meta) {
        return Ok(Contents::Skipped(kind));
    }
    // O_NONBLOCK: should the path be swapped for a FIFO after the check above, opening
    // it does not wait for a writer; the type is checked again on the opened file.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    if let Some(kind) = not_regular(&meta) {
        return Ok(Contents::Skipped(kind));
    }
    let name = path.display().to_string();
    if meta.len() > MAX_FILE_BYTES {
        return Err(too_large(&name, Some(meta.len())));
    }
    read_capped(file, &name).map(Contents::Text)
}

/// Read standard input, at most [`MAX_FILE_BYTES`] of it.
pub fn read_stdin() -> Result<String, InputError> {
    read_capped(std::io::stdin().lock(), "<stdin>")
}

fn read_capped(reader: impl Read, name: &str) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError(format!("cannot read `{name}`: {e}")))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(too_large(name, None));
    }
    utf8(bytes, name)
}

fn too_large(name: &str, size: Option<u64>) -> InputError {
    let size = size.map_or("more than 64 MiB".to_string(), |s| format!("{s} bytes"));
    InputError(format!(
        "`{name}` is {size}; polc reads at most {} bytes (64 MiB) per input file; \
         split it into several files",
        MAX_FILE_BYTES
    ))
}

/// The text, or an error naming the line and column of the first invalid byte.
pub fn utf8(bytes: Vec<u8>, name: &str) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // The prefix before `offset` is valid UTF-8 by definition.
        let prefix = std::str::from_utf8(&bytes[..offset]).unwrap_or_default();
        let line = prefix.matches('\n').count() + 1;
        let line_start = prefix.rfind('\n').map_or(0, |i| i + 1);
        let column = prefix[line_start..].chars().count() + 1;
        InputError(format!(
            "{name}:{line}:{column}: not UTF-8 text: invalid byte 0x{:02x} (byte offset \
             {offset}); save the file as UTF-8",
            bytes[offset]
        ))
    })
}
