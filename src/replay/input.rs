//! Reading what `replay`, `replay --to-stream`, `sizing` and `schema` read:
//! files or folders (walked recursively, in a stable order), plain or gzip
//! (detected by content), split into events by [`split`](super::split) and
//! unwrapped by shape by [`redrive`](super::redrive).
//!
//! This is the file-system side of replay; what it hands on is bytes.

use super::redrive::{self, Shape};
use super::split::{split, PieceKind};
use flate2::read::MultiGzDecoder;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// What reading the input counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReadStats {
    pub files: usize,
    /// One line per file that could not be read completely.
    pub bad_files: Vec<String>,
    pub bytes_read: u64,
    pub bytes_decoded: u64,
    /// Events handed on (a piece that is not whole JSON is one event: the
    /// transform rejects it, and it reaches the error output).
    pub events: usize,
    /// Events read from Firehose error records and from Firehose requests.
    pub from_error_records: usize,
    pub from_requests: usize,
    /// Records of Firehose requests with no `data` string: they carry no
    /// event, and the function fails them as `missing_data`.
    pub without_data: usize,
    /// Pieces that are not whole JSON: truncated, and garbage.
    pub not_values: [usize; 2],
}

impl ReadStats {
    pub fn add(&mut self, other: ReadStats) {
        let ReadStats {
            files,
            bad_files,
            bytes_read,
            bytes_decoded,
            events,
            from_error_records,
            from_requests,
            without_data,
            not_values,
        } = other;
        self.files += files;
        self.bad_files.extend(bad_files);
        self.bytes_read += bytes_read;
        self.bytes_decoded += bytes_decoded;
        self.events += events;
        self.from_error_records += from_error_records;
        self.from_requests += from_requests;
        self.without_data += without_data;
        for (total, n) in self.not_values.iter_mut().zip(not_values) {
            *total += n;
        }
    }
}

/// Every regular file under `inputs`, sorted so that runs are reproducible,
/// with its size. The folder `skip` (replay's output) is never read back.
pub fn collect_files(
    inputs: &[PathBuf],
    skip: Option<&Path>,
) -> Result<Vec<(PathBuf, u64)>, String> {
    let skip = skip.and_then(|dir| std::fs::canonicalize(dir).ok());
    let mut files = Vec::new();
    let mut stack: Vec<PathBuf> = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input)
            .map_err(|e| format!("cannot read --input {}: {e}", input.display()))?;
        if meta.is_dir() {
            stack.push(input.clone());
        } else {
            files.push((input.clone(), meta.len()));
        }
    }
    while let Some(dir) = stack.pop() {
        if skip.is_some() && std::fs::canonicalize(&dir).ok() == skip {
            continue;
        }
        let entries =
            std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
            let path = entry.path();
            let meta = std::fs::metadata(&path)
                .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                files.push((path, meta.len()));
            }
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

/// A file read and decompressed.
pub struct FileData {
    pub data: Vec<u8>,
    pub mtime_ms: i64,
    /// Why the file could not be read to its end (a damaged gzip stream):
    /// `data` holds what decoded before the damage.
    pub damaged: Option<String>,
}

/// A file's bytes, un-gzipped when they start with gzip's magic number, and
/// its modification time; counted in `stats` (a damaged file among its
/// `bad_files`).
pub fn read_file(path: &Path, stats: &mut ReadStats) -> Result<FileData, String> {
    let raw = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mtime_ms = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis() as i64);
    stats.bytes_read += raw.len() as u64;
    let (data, damaged) = decode(path, raw);
    stats.bytes_decoded += data.len() as u64;
    if let Some(why) = &damaged {
        stats.bad_files.push(why.clone());
    }
    Ok(FileData {
        data,
        mtime_ms,
        damaged,
    })
}

/// A file's bytes, un-gzipped when they start with gzip's magic number. A
/// damaged gzip stream yields what decoded before the damage, and the
/// reason to report.
pub fn decode(path: &Path, raw: Vec<u8>) -> (Vec<u8>, Option<String>) {
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return (raw, None);
    }
    let mut data = Vec::with_capacity(raw.len() * 4);
    // `read_to_end` keeps what it decoded before an error: those events are
    // still read, and the file is reported.
    let result = MultiGzDecoder::new(&raw[..]).read_to_end(&mut data);
    let damaged = result.err().map(|e| {
        format!(
            "{}: gzip stream damaged after {} decoded bytes ({e}); the rest of the file cannot be read",
            path.display(),
            data.len()
        )
    });
    (data, damaged)
}

/// Hands each event of `data` to `each` in order, with the end offset in
/// `data` of the piece it came from (for progress), counting shapes and
/// pieces in `stats`. Stops, giving `false`, when `each` does.
pub fn events(
    data: &[u8],
    stats: &mut ReadStats,
    mut each: impl FnMut(&[u8], usize) -> bool,
) -> bool {
    for piece in split(data) {
        let end = piece.bytes.as_ptr() as usize - data.as_ptr() as usize + piece.bytes.len();
        match piece.kind {
            PieceKind::Value => {}
            PieceKind::Truncated => stats.not_values[0] += 1,
            PieceKind::Garbage => stats.not_values[1] += 1,
        }
        let carried = redrive::events(piece.bytes);
        match carried.shape {
            Shape::Event => {}
            Shape::ErrorRecord => stats.from_error_records += 1,
            Shape::Request => stats.from_requests += carried.events.len(),
        }
        stats.without_data += carried.without_data;
        for event in &carried.events {
            stats.events += 1;
            if !each(event, end) {
                return false;
            }
        }
    }
    true
}

/// The rule by which `replay`, `schema` and `sizing` refuse input that is
/// not events (a README, a CSV, a log file): when more than half of what
/// was read is not JSON at all (text, or a value cut short: the pieces
/// [`split`] marks as garbage or truncated), the input is taken for
/// something else, and the command says so and exits non-zero. Below half,
/// they are the ordinary bad records of real data: counted, and kept in the
/// error output. Records that are JSON but fail the transform (an array,
/// an object of bad bytes) do not count: a redrive of the error output may
/// be all failures, and is still events.
///
/// `records` counts everything read (request records without `data`
/// among them), `not_json` the pieces that are not JSON.
pub fn mostly_not_events(records: usize, not_json: usize) -> bool {
    not_json * 2 > records
}

/// The one line that says so.
pub fn not_events_message(records: usize, not_json: usize) -> String {
    format!(
        "the input does not look like events: {not_json} of {records} pieces read are not JSON \
         (text, or JSON cut short); more than half is taken for input of another kind"
    )
}

/// [`mostly_not_events`] of what was read: `Err` with the message when so.
pub fn check_events(stats: &ReadStats) -> Result<(), String> {
    let records = stats.events + stats.without_data;
    let not_json = stats.not_values[0] + stats.not_values[1];
    if mostly_not_events(records, not_json) {
        Err(not_events_message(records, not_json))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mostly_not_events_is_more_than_half_not_json() {
        // (events, without data, truncated, garbage, refused)
        let cases = [
            (0, 0, 0, 0, false),
            (1, 0, 0, 0, false),
            (1, 0, 0, 1, true),
            (1, 0, 1, 0, true),
            (2, 0, 0, 1, false),
            (3, 0, 1, 1, true),
            (2, 2, 0, 2, false),
            (110, 0, 0, 109, true),
            (100, 0, 25, 25, false),
            (100, 0, 25, 26, true),
        ];
        for (events, without_data, truncated, garbage, want) in cases {
            let stats = ReadStats {
                events,
                without_data,
                not_values: [truncated, garbage],
                ..ReadStats::default()
            };
            assert_eq!(check_events(&stats).is_err(), want, "{stats:?}");
        }
    }

    #[test]
    fn the_message_says_what_was_read() {
        let stats = ReadStats {
            events: 110,
            not_values: [2, 107],
            ..ReadStats::default()
        };
        assert_eq!(
            check_events(&stats).unwrap_err(),
            "the input does not look like events: 109 of 110 pieces read are not JSON \
             (text, or JSON cut short); more than half is taken for input of another kind"
        );
    }

    #[test]
    fn events_count_shapes_and_pieces() {
        let data = b"{\"a\":1}\nnot json\n{\"records\":[{\"recordId\":\"1\"},{\"recordId\":\"2\",\"data\":\"e30=\"}]}\n{\"b\":";
        let mut stats = ReadStats::default();
        let mut seen = Vec::new();
        assert!(events(data, &mut stats, |e, _| {
            seen.push(String::from_utf8_lossy(e).into_owned());
            true
        }));
        assert_eq!(seen, ["{\"a\":1}", "not json", "{}", "{\"b\":"]);
        assert_eq!(stats.events, 4);
        assert_eq!(stats.from_requests, 1);
        assert_eq!(stats.without_data, 1);
        assert_eq!(stats.not_values, [1, 1]);
        // Stopping early.
        let mut stats = ReadStats::default();
        assert!(!events(data, &mut stats, |_, _| false));
        assert_eq!(stats.events, 1);
    }
}
