//! The spool's two files in its directory, and every blocking operation on them.
//!
//! - `spool.log`: [`MAGIC`] then frames (`record`), appended with an fsync each;
//! - `spool.pos`: the offset of the first frame not yet applied (u64 LE, then its CRC-32),
//!   rewritten after every applied frame.
//!
//! Opening scans the whole log: a torn tail is cut off (a write the crash interrupted,
//! never acknowledged), a damaged frame with more after it stops the scan there, and the
//! rest of the file is moved aside to `spool.corrupt.{ms}` for an operator and reported.
//! Draining truncates the log first and resets the position second, so a crash between
//! the two leaves a position past the end, read as "nothing pending", never as "replay
//! everything again". The log is `flock`ed: two processes never share one spool.

use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::record::{self, FrameError, ReadError, SpooledEvent, FRAME_HEADER, MAGIC};

const LOG: &str = "spool.log";
const POS: &str = "spool.pos";
/// The offset of the first frame.
pub const START: u64 = MAGIC.len() as u64;

/// What opening found beyond the good frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    /// The file ended inside a frame (or in a frame whose checksum fails and nothing
    /// follows): cut off.
    TornTail { offset: u64, bytes: u64 },
    /// A damaged frame with more data after it: the scan stopped there; everything from
    /// `offset` on was moved to `kept_as`.
    Corrupt {
        offset: u64,
        bytes: u64,
        reason: String,
        kept_as: PathBuf,
    },
}

/// The state of the log after opening.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recovery {
    /// Frames waiting to be applied.
    pub pending: u64,
    /// Frames before the position: applied before a crash, not yet truncated.
    pub applied: u64,
    pub dropped: Option<Dropped>,
    /// The position file was unreadable or pointed inside a frame: every frame replays.
    pub position_reset: bool,
}

/// An open spool log. Not thread-safe by itself: the handle keeps it under one lock.
#[derive(Debug)]
pub struct SpoolFile {
    log: File,
    pos: File,
    /// Length of the log: the end of its last good frame.
    end: u64,
    /// Offset of the first frame not yet applied.
    cursor: u64,
    /// Frames in `cursor..end`.
    pending: u64,
    /// The newest arrival time written, so appends never go back in time.
    last_arrival: i64,
}

/// Failures opening or writing a spool.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{0}: in use by another alertgate process (each replica needs its own spool dir)")]
    Locked(PathBuf),
    #[error("{0}: not a spool file (it does not start with {MAGIC:?})")]
    NotASpool(PathBuf),
    #[error("{path} at offset {offset}: {reason}")]
    Corrupt {
        path: PathBuf,
        offset: u64,
        reason: String,
    },
}

fn io_at(path: &Path) -> impl Fn(io::Error) -> FileError + '_ {
    move |source| FileError::Io {
        path: path.to_owned(),
        source,
    }
}

impl SpoolFile {
    /// Opens (creating) the spool in `dir`, recovering from a crash as the module says.
    pub fn open(dir: &Path) -> Result<(SpoolFile, Recovery), FileError> {
        std::fs::create_dir_all(dir).map_err(io_at(dir))?;
        let log_path = dir.join(LOG);
        let err = io_at(&log_path);
        let log = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&log_path)
            .map_err(&err)?;
        if rustix::fs::flock(&log, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            return Err(FileError::Locked(dir.to_owned()));
        }
        let len = log.metadata().map_err(&err)?.len();
        let mut magic = [0u8; MAGIC.len()];
        let have = usize::try_from(len.min(START)).unwrap_or(0);
        log.read_exact_at(&mut magic[..have], 0).map_err(&err)?;
        if magic[..have] != MAGIC[..have] {
            return Err(FileError::NotASpool(log_path.clone()));
        }
        if len < START {
            // New, or torn while being created.
            log.set_len(0).map_err(&err)?;
            log.write_all_at(MAGIC, 0).map_err(&err)?;
            log.sync_all().map_err(&err)?;
            sync_dir(dir);
        }
        let pos_path = dir.join(POS);
        let pos = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&pos_path)
            .map_err(io_at(&pos_path))?;
        let saved = read_position(&pos);

        let scan = scan(&log, len.max(START)).map_err(&err)?;
        let mut dropped = None;
        if let Some(stop) = scan.stop {
            let file_len = len.max(START);
            let (bytes, torn) = match &stop {
                FrameError::Torn { .. } => (file_len - scan.end, true),
                // A bad frame that reaches the end of the file is the last write, torn.
                FrameError::Corrupt { len, .. } => {
                    (file_len - scan.end, scan.end + len >= file_len)
                }
            };
            dropped = Some(if torn {
                Dropped::TornTail {
                    offset: scan.end,
                    bytes,
                }
            } else {
                let kept_as = dir.join(format!("spool.corrupt.{}", crate::clock::now_ms()));
                keep_aside(&log, scan.end, file_len, &kept_as).map_err(io_at(&kept_as))?;
                Dropped::Corrupt {
                    offset: scan.end,
                    bytes,
                    reason: match stop {
                        FrameError::Corrupt { reason, .. } => reason,
                        FrameError::Torn { .. } => String::new(),
                    },
                    kept_as,
                }
            });
            log.set_len(scan.end).map_err(&err)?;
            log.sync_all().map_err(&err)?;
        }
        let end = scan.end;
        let (cursor, position_reset) = match saved {
            // Past the end: the log was truncated after a drain and the reset of the
            // position did not happen (or the tail it pointed into was cut): all applied.
            Some(at) if at >= end => (end, false),
            Some(at) if scan.boundaries.binary_search(&at).is_ok() => (at, false),
            None if len <= START => (START, false),
            _ => (START, true),
        };
        let applied = scan.boundaries.partition_point(|&b| b < cursor) as u64;
        let total = scan.boundaries.len() as u64;
        let file = SpoolFile {
            log,
            pos,
            end,
            cursor,
            pending: total - applied,
            last_arrival: scan.last_arrival,
        };
        file.write_position(true).map_err(io_at(&pos_path))?;
        let recovery = Recovery {
            pending: file.pending,
            applied,
            dropped,
            position_reset,
        };
        Ok((file, recovery))
    }

    /// Frames waiting to be applied.
    pub fn pending(&self) -> u64 {
        self.pending
    }

    /// Bytes of the log on disk (what `max_bytes` bounds).
    pub fn len(&self) -> u64 {
        self.end
    }

    /// Appends `event` (its arrival time raised to the newest one written, so the log
    /// never goes back in time) and fsyncs. `max_bytes` bounds the log's size: `Ok(false)`
    /// when the frame would pass it (nothing is written).
    pub fn append(&mut self, event: &mut SpooledEvent, max_bytes: u64) -> io::Result<bool> {
        event.arrival_ms = event.arrival_ms.max(self.last_arrival);
        let frame = record::encode(event).map_err(io::Error::other)?;
        if self.end + frame.len() as u64 > max_bytes {
            return Ok(false);
        }
        let written = self
            .log
            .write_all_at(&frame, self.end)
            .and_then(|()| self.log.sync_data());
        if let Err(e) = written {
            // Cut whatever part reached the file, so the next append starts clean.
            let _ = self.log.set_len(self.end);
            return Err(e);
        }
        self.end += frame.len() as u64;
        self.pending += 1;
        self.last_arrival = event.arrival_ms;
        Ok(true)
    }

    /// Up to `max` frames from the position on, each with the offset just past it.
    pub fn read_pending(&self, max: usize) -> Result<Vec<(u64, SpooledEvent)>, FileError> {
        let mut out = Vec::new();
        let mut at = self.cursor;
        let corrupt = |offset, reason: String| FileError::Corrupt {
            path: PathBuf::from(LOG),
            offset,
            reason,
        };
        while at < self.end && out.len() < max {
            let mut reader = ReadAt {
                file: &self.log,
                at,
                end: self.end,
            };
            let payload = match record::read_frame(&mut reader) {
                Ok(Some(payload)) => payload,
                Ok(None) => break,
                Err(ReadError::Io(source)) => {
                    return Err(FileError::Io {
                        path: PathBuf::from(LOG),
                        source,
                    })
                }
                Err(ReadError::Frame(e)) => return Err(corrupt(at, format!("{e:?}"))),
            };
            let event = record::decode(&payload).map_err(|e| corrupt(at, format!("{e:?}")))?;
            at += (FRAME_HEADER + payload.len()) as u64;
            out.push((at, event));
        }
        Ok(out)
    }

    /// Marks the frames before `to` applied. When nothing is left, truncates the log and
    /// returns `true` (the spool is empty: live writes resume).
    pub fn advance(&mut self, to: u64) -> io::Result<bool> {
        if to <= self.cursor {
            return Ok(self.pending == 0);
        }
        self.cursor = to.min(self.end);
        self.pending = self.pending.saturating_sub(1);
        if self.cursor < self.end {
            // No fsync: a process crash keeps it (page cache); after a machine crash the
            // frames since the last synced position are applied a second time.
            self.write_position(false)?;
            return Ok(false);
        }
        self.log.set_len(START)?;
        self.log.sync_all()?;
        self.end = START;
        self.cursor = START;
        self.pending = 0;
        self.write_position(true)?;
        Ok(true)
    }

    fn write_position(&self, sync: bool) -> io::Result<()> {
        let mut bytes = [0u8; 12];
        bytes[..8].copy_from_slice(&self.cursor.to_le_bytes());
        let crc = crc32fast::hash(&bytes[..8]);
        bytes[8..].copy_from_slice(&crc.to_le_bytes());
        self.pos.write_all_at(&bytes, 0)?;
        if sync {
            self.pos.sync_data()?;
        }
        Ok(())
    }
}

/// The saved position, if the file holds a checked one.
fn read_position(pos: &File) -> Option<u64> {
    let mut bytes = [0u8; 12];
    pos.read_exact_at(&mut bytes, 0).ok()?;
    let offset = u64::from_le_bytes(bytes[..8].try_into().ok()?);
    let crc = u32::from_le_bytes(bytes[8..].try_into().ok()?);
    (crc32fast::hash(&bytes[..8]) == crc).then_some(offset)
}

struct Scan {
    /// Offset of every good frame.
    boundaries: Vec<u64>,
    /// End of the last good frame.
    end: u64,
    last_arrival: i64,
    stop: Option<FrameError>,
}

/// Reads every frame from [`START`], checking each (checksum, then JSON).
fn scan(log: &File, len: u64) -> io::Result<Scan> {
    let mut file = log.try_clone()?;
    file.seek(SeekFrom::Start(START))?;
    let mut reader = BufReader::with_capacity(1 << 16, file.take(len - START));
    let mut scan = Scan {
        boundaries: Vec::new(),
        end: START,
        last_arrival: i64::MIN,
        stop: None,
    };
    loop {
        let payload = match record::read_frame(&mut reader) {
            Ok(Some(payload)) => payload,
            Ok(None) => break,
            Err(ReadError::Io(e)) => return Err(e),
            Err(ReadError::Frame(stop)) => {
                scan.stop = Some(stop);
                break;
            }
        };
        match record::decode(&payload) {
            Ok(event) => scan.last_arrival = scan.last_arrival.max(event.arrival_ms),
            Err(stop) => {
                scan.stop = Some(stop);
                break;
            }
        }
        scan.boundaries.push(scan.end);
        scan.end += (FRAME_HEADER + payload.len()) as u64;
    }
    Ok(scan)
}

/// Copies `from..to` of the log into a new file at `path` (fsynced).
fn keep_aside(log: &File, from: u64, to: u64, path: &Path) -> io::Result<()> {
    let mut out = File::create_new(path)?;
    let mut reader = ReadAt {
        file: log,
        at: from,
        end: to,
    };
    io::copy(&mut reader, &mut out)?;
    out.sync_all()
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// `Read` over `at..end` of a file, by positioned reads (the file's cursor is not moved).
struct ReadAt<'a> {
    file: &'a File,
    at: u64,
    end: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = usize::try_from(self.end.saturating_sub(self.at)).unwrap_or(usize::MAX);
        let want = buf.len().min(left);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.at)?;
        self.at += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests;
