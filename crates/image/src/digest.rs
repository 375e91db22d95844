//! sha256 content digests.

use crate::error::{Error, Result};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::str::FromStr;

/// A validated `sha256:<hex>` digest.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    pub fn parse(s: &str) -> Result<Self> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| Error::InvalidDigest(s.to_string()))?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(Error::InvalidDigest(s.to_string()));
        }
        Ok(Digest(s.to_string()))
    }
    pub fn from_hex(hex: &str) -> Result<Self> {
        Self::parse(&format!("sha256:{hex}"))
    }
    pub fn of(bytes: &[u8]) -> Self {
        Digest(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }
    pub fn from_hasher(h: Sha256) -> Self {
        Digest(format!("sha256:{}", hex::encode(h.finalize())))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }
    /// The 12-character id docker shows.
    pub fn short(&self) -> &str {
        &self.0[7..19]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// A writer adapter that hashes and counts what passes through it.
pub struct HashingWriter<W> {
    pub inner: W,
    pub hasher: Sha256,
    pub written: u64,
}

impl<W> HashingWriter<W> {
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }
    pub fn finish(self) -> (W, Digest, u64) {
        (self.inner, Digest::from_hasher(self.hasher), self.written)
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// How many bytes [`PipedHashWriter`] gathers before it writes them and hands them to its hasher.
const PIPE_CHUNK: usize = 256 * 1024;

/// A buffered writer that hashes what passes through it on a thread of its own, so a big
/// blob's sha256 runs while its bytes are produced and written instead of in line with them
/// (a 30 MB layer: ~20 ms of hashing). Chunks of [`PIPE_CHUNK`] bytes are written, then moved
/// (not copied) to the hasher by a bounded channel; the thread starts with the first full
/// chunk, so a small blob is hashed in line at [`PipedHashWriter::finish`], with no thread.
pub struct PipedHashWriter<W: std::io::Write> {
    inner: W,
    buf: Vec<u8>,
    pipe: Option<(
        std::sync::mpsc::SyncSender<Vec<u8>>,
        std::thread::JoinHandle<Sha256>,
    )>,
    written: u64,
}

impl<W: std::io::Write> PipedHashWriter<W> {
    pub fn new(inner: W) -> Self {
        PipedHashWriter {
            inner,
            buf: Vec::with_capacity(PIPE_CHUNK),
            pipe: None,
            written: 0,
        }
    }

    /// The bytes written to it so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// The bytes already handed to the inner writer.
    pub fn in_inner(&self) -> u64 {
        self.written - self.buf.len() as u64
    }

    pub fn inner(&self) -> &W {
        &self.inner
    }

    /// Write the gathered chunk and pass it to the hasher (started now if it is not yet).
    fn pass_on(&mut self) -> std::io::Result<()> {
        self.inner.write_all(&self.buf)?;
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(PIPE_CHUNK));
        let (tx, _) = self.pipe.get_or_insert_with(|| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
            let t = std::thread::spawn(move || {
                let mut h = Sha256::new();
                for c in rx {
                    h.update(&c);
                }
                h
            });
            (tx, t)
        });
        tx.send(chunk)
            .map_err(|_| std::io::Error::other("the hashing thread is gone"))
    }

    /// Everything written to the inner writer: (it, the digest, the byte count).
    pub fn finish(mut self) -> std::io::Result<(W, Digest, u64)> {
        self.inner.write_all(&self.buf)?;
        let h = match self.pipe.take() {
            None => Sha256::new().chain_update(&self.buf),
            Some((tx, t)) => {
                drop(tx);
                let mut h = t
                    .join()
                    .map_err(|_| std::io::Error::other("the hashing thread panicked"))?;
                h.update(&self.buf);
                h
            }
        };
        Ok((self.inner, Digest::from_hasher(h), self.written))
    }
}

impl<W: std::io::Write> std::io::Write for PipedHashWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = buf.len().min(PIPE_CHUNK - self.buf.len());
        self.buf.extend_from_slice(&buf[..n]);
        self.written += n as u64;
        if self.buf.len() == PIPE_CHUNK {
            self.pass_on()?;
        }
        Ok(n)
    }
    /// What is gathered goes to the inner writer (and the hasher) now.
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.pass_on()?;
        }
        self.inner.flush()
    }
}

/// A reader adapter that hashes and counts what is read through it.
pub struct HashingReader<R> {
    pub inner: R,
    pub hasher: Sha256,
    pub read: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            read: 0,
        }
    }
    pub fn finish(self) -> (Digest, u64) {
        (Digest::from_hasher(self.hasher), self.read)
    }
}

impl<R: std::io::Read> std::io::Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn piped_hash_is_the_sha256_of_what_was_written() {
        use std::io::Write;
        for (len, flush_mid) in [
            (0, false),
            (1, false),
            (PIPE_CHUNK, false),
            (3 * PIPE_CHUNK + 5, true),
        ] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let mut w = PipedHashWriter::new(Vec::new());
            // odd-sized writes, as tar makes them, and a flush in the middle
            for (i, part) in data.chunks(4099).enumerate() {
                w.write_all(part).unwrap();
                if flush_mid && i == 3 {
                    w.flush().unwrap();
                }
            }
            let (out, d, n) = w.finish().unwrap();
            assert_eq!((out.len(), n), (len, len as u64));
            assert_eq!(out, data);
            assert_eq!(d, Digest::of(&data), "{len} bytes");
        }
    }

    #[test]
    fn parse_and_reject() {
        let d = Digest::of(b"");
        assert_eq!(
            d.as_str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
        assert!(Digest::parse("sha256:abc").is_err());
        assert!(Digest::parse(
            "md5:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        )
        .is_err());
        assert!(Digest::parse(
            "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
        )
        .is_err());
        assert_eq!(d.short(), "e3b0c44298fc");
    }
}
