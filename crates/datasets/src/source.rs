//! Opening a data file: transparently gunzips `.gz` files (detected by the gzip magic, not the
//! name) and reads exactly the number of bytes the header promised, so a header can never make
//! us allocate more than the file actually holds.
//!
//! A gzip stream is also capped at what its compressed size can honestly hold: deflate
//! expands at most 1032-fold, so a file that decompresses past that (a gzip bomb, or a stream
//! that does not end) is refused as soon as it crosses the bound, whatever the format's own
//! header says.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

use crate::error::{DatasetError, Result, io};

/// Deflate's largest expansion: a 258-byte match coded in 2 bits, about 1032 : 1.
const MAX_DEFLATE_RATIO: u64 = 1032;

/// A byte stream from a (possibly gzipped) file, tracking the decompressed offset.
pub(crate) struct Source {
    path: PathBuf,
    reader: Box<dyn Read>,
    offset: u64,
    /// Size on disk when the file is not compressed (lets us check lengths before reading).
    raw_len: Option<u64>,
    gzipped: bool,
    /// Most bytes the stream may yield: the file's size, or for gzip the deflate bound on it.
    limit: u64,
}

impl Source {
    pub fn open(path: &Path) -> Result<Source> {
        let file = File::open(path).map_err(io(path))?;
        let len = file.metadata().map_err(io(path))?.len();
        let mut reader = BufReader::new(file);
        let mut magic = [0u8; 2];
        let n = read_up_to(&mut reader, &mut magic).map_err(io(path))?;
        let head = std::io::Cursor::new(magic[..n].to_vec());
        let chained = head.chain(reader);
        let gzipped = n == 2 && magic == [0x1f, 0x8b];
        let limit = if gzipped {
            len.saturating_mul(MAX_DEFLATE_RATIO)
        } else {
            len
        };
        // One byte past the limit is let through so that crossing it can be seen and named.
        let reader: Box<dyn Read> = if gzipped {
            Box::new(MultiGzDecoder::new(chained).take(limit.saturating_add(1)))
        } else {
            Box::new(chained.take(limit.saturating_add(1)))
        };
        Ok(Source {
            path: path.to_path_buf(),
            reader,
            offset: 0,
            raw_len: (!gzipped).then_some(len),
            gzipped,
            limit,
        })
    }

    /// Refuses a payload of `len` bytes more than the file can hold, before reading any of it.
    pub fn ensure_can_hold(&self, len: u64, what: &str) -> Result<()> {
        let left = self.limit.saturating_sub(self.offset);
        if len > left {
            let how = if self.gzipped {
                format!(
                    "its {} compressed bytes can decompress to at most {left} more",
                    self.raw_len_or_compressed()
                )
            } else {
                format!("the file has {left} bytes left")
            };
            return Err(self.format_error(
                self.offset,
                format!("header promises {len} bytes of {what} but {how}"),
            ));
        }
        Ok(())
    }

    fn raw_len_or_compressed(&self) -> u64 {
        self.raw_len.unwrap_or(self.limit / MAX_DEFLATE_RATIO)
    }

    /// Errors once the stream has yielded more than a file of this size can hold.
    fn check_limit(&self) -> Result<()> {
        if self.offset > self.limit {
            return Err(DatasetError::Gzip {
                path: self.path.clone(),
                detail: format!(
                    "decompresses to more than {} bytes, {MAX_DEFLATE_RATIO} times its \
                     compressed size: not a real deflate stream (a gzip bomb?)",
                    self.limit
                ),
            });
        }
        Ok(())
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes left in an uncompressed file (None for gzip, whose size is known only at the end).
    pub fn remaining_hint(&self) -> Option<u64> {
        self.raw_len.map(|l| l.saturating_sub(self.offset))
    }

    pub fn format_error(&self, offset: u64, detail: impl Into<String>) -> DatasetError {
        DatasetError::Format {
            path: self.path.clone(),
            offset,
            detail: detail.into(),
        }
    }

    fn map_read_error(&self, e: std::io::Error) -> DatasetError {
        if self.gzipped && e.kind() != std::io::ErrorKind::NotFound {
            DatasetError::Gzip {
                path: self.path.clone(),
                detail: e.to_string(),
            }
        } else {
            DatasetError::Io {
                path: self.path.clone(),
                source: e,
            }
        }
    }

    /// Reads a big-endian u32.
    pub fn read_u32_be(&mut self, what: &str) -> Result<u32> {
        let mut b = [0u8; 4];
        self.read_exact_or(&mut b, what)?;
        Ok(u32::from_be_bytes(b))
    }

    /// Fills `buf` completely or reports a truncated file naming `what` was being read.
    pub fn read_exact_or(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let got = read_up_to(&mut self.reader, buf).map_err(|e| self.map_read_error(e))?;
        if self.offset + got as u64 > self.limit {
            self.offset += got as u64;
            return self.check_limit();
        }
        if got < buf.len() {
            return Err(self.format_error(
                self.offset + got as u64,
                format!(
                    "file ends early: expected {} bytes of {what}, found {got}",
                    buf.len()
                ),
            ));
        }
        self.offset += got as u64;
        Ok(())
    }

    /// Reads as many bytes as are left, up to `buf.len()`; 0 means a clean end of file.
    pub fn read_some(&mut self, buf: &mut [u8]) -> Result<usize> {
        let got = read_up_to(&mut self.reader, buf).map_err(|e| self.map_read_error(e))?;
        self.offset += got as u64;
        self.check_limit()?;
        Ok(got)
    }

    /// Reads exactly `len` bytes of payload (declared by a validated header), then checks that
    /// nothing follows. Grows the buffer as data arrives rather than trusting `len` up front.
    pub fn read_payload(&mut self, len: usize, what: &str) -> Result<Vec<u8>> {
        if let Some(left) = self.remaining_hint()
            && left != len as u64
        {
            return Err(self.format_error(
                self.offset,
                format!("header promises {len} bytes of {what} but the file has {left} left"),
            ));
        }
        self.ensure_can_hold(len as u64, what)?;
        let start = self.offset;
        let mut data = Vec::new();
        let mut limited = (&mut self.reader).take(len as u64 + 1);
        let got = limited
            .read_to_end(&mut data)
            .map_err(|e| self.map_read_error(e))?;
        if got < len {
            return Err(self.format_error(
                start + got as u64,
                format!("file ends early: expected {len} bytes of {what}, found {got}"),
            ));
        }
        if got > len {
            return Err(self.format_error(
                start + len as u64,
                format!("unexpected data after the {len} bytes of {what}"),
            ));
        }
        self.offset += len as u64;
        Ok(data)
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
