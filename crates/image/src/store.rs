//! The content store: blobs addressed by sha256 under `<root>/blobs/sha256/<hex>`.
//!
//! Every write goes to a private temp file in `<root>/tmp`, is hashed while it is
//! written, fsynced, checked against the expected digest and size, and only then
//! renamed into place. A mismatch removes the temp file, so nothing unverified is
//! ever visible. Two writers of the same blob both rename identical bytes onto
//! the same name, which is atomic, so concurrent pulls are safe.

use crate::digest::{Digest, PipedHashWriter};
use crate::error::{Error, IoContext, Result};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug)]
pub struct ContentStore {
    root: PathBuf,
}

pub(crate) fn random_suffix() -> String {
    format!("{:016x}", rand::random::<u64>())
}

pub(crate) fn fsync_dir(p: &Path) -> Result<()> {
    File::open(p)
        .and_then(|f| f.sync_all())
        .ctx(|| format!("fsync directory {}", p.display()))
}

impl ContentStore {
    pub fn open(root: &Path) -> Result<Self> {
        for d in ["blobs/sha256", "tmp"] {
            let p = root.join(d);
            fs::create_dir_all(&p).ctx(|| format!("create {}", p.display()))?;
        }
        Ok(ContentStore {
            root: root.to_path_buf(),
        })
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    pub fn path(&self, d: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(d.hex())
    }

    pub fn has(&self, d: &Digest) -> bool {
        self.path(d).is_file()
    }

    pub fn size(&self, d: &Digest) -> Result<u64> {
        let p = self.path(d);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(d.to_string()))
            }
            Err(e) => Err(e).ctx(|| format!("stat {}", p.display())),
        }
    }

    pub fn open_blob(&self, d: &Digest) -> Result<File> {
        let p = self.path(d);
        match File::open(&p) {
            Ok(f) => Ok(f),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                Err(Error::BlobNotFound(d.to_string()))
            }
            Err(e) => Err(e).ctx(|| format!("open {}", p.display())),
        }
    }

    pub fn read(&self, d: &Digest) -> Result<Vec<u8>> {
        let mut f = self.open_blob(d)?;
        let mut v = Vec::new();
        f.read_to_end(&mut v)
            .ctx(|| format!("read {}", self.path(d).display()))?;
        Ok(v)
    }

    /// Start writing a blob. With `expected`, the digest is checked on commit.
    pub fn writer(
        &self,
        expected: Option<Digest>,
        expected_size: Option<u64>,
    ) -> Result<BlobWriter> {
        let tmp = self.tmp_dir().join(format!("ingest-{}", random_suffix()));
        let f = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .ctx(|| format!("create {}", tmp.display()))?;
        Ok(BlobWriter {
            store: self.clone(),
            tmp: Some(tmp),
            w: Some(PipedHashWriter::new(f)),
            expected,
            expected_size,
            kicked: 0,
        })
    }

    /// Write a whole blob from memory.
    pub fn put(&self, bytes: &[u8], expected: Option<&Digest>) -> Result<Digest> {
        let d = Digest::of(bytes);
        if let Some(e) = expected {
            if *e != d {
                return Err(Error::DigestMismatch {
                    what: "blob".into(),
                    expected: e.to_string(),
                    actual: d.to_string(),
                });
            }
        }
        self.write_whole(bytes, d, true)
    }

    /// [`put`](Self::put), but the blob's name is made durable only by the next
    /// [`sync_names`](Self::sync_names): what writes several blobs before naming them (an
    /// image's layer, config and manifest) syncs their directory once.
    pub fn put_deferred(&self, bytes: &[u8]) -> Result<Digest> {
        self.write_whole(bytes, Digest::of(bytes), false)
    }

    /// `bytes`, whose digest is `d`, into the store unless there; its name synced with
    /// `sync_name`, else left to [`sync_names`](Self::sync_names).
    fn write_whole(&self, bytes: &[u8], d: Digest, sync_name: bool) -> Result<Digest> {
        if self.has(&d) {
            return Ok(d);
        }
        let mut w = self.writer(Some(d.clone()), Some(bytes.len() as u64))?;
        w.write_all(bytes).ctx(|| "write blob".to_string())?;
        if sync_name {
            w.commit()
        } else {
            w.commit_deferred()
        }
    }

    /// Make the names of the blobs written with `put_deferred`/`commit_deferred` durable
    /// (fsync of the blob directory): before anything durable refers to them.
    pub fn sync_names(&self) -> Result<()> {
        fsync_dir(&self.root.join("blobs/sha256"))
    }

    /// Copy a reader into the store, verifying `expected` if given.
    pub fn put_reader(&self, r: &mut dyn Read, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        let mut w = self.writer(expected.cloned(), None)?;
        io::copy(r, &mut w).ctx(|| "copy blob into content store".to_string())?;
        let n = w.written();
        Ok((w.commit()?, n))
    }

    pub fn delete(&self, d: &Digest) -> Result<()> {
        let p = self.path(d);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx(|| format!("remove {}", p.display())),
        }
    }

    pub fn list(&self) -> Result<Vec<Digest>> {
        let dir = self.root.join("blobs/sha256");
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).ctx(|| format!("read {}", dir.display()))? {
            let e = e.ctx(|| format!("read {}", dir.display()))?;
            if let Some(Ok(d)) = e.file_name().to_str().map(Digest::from_hex) {
                out.push(d);
            }
        }
        Ok(out)
    }
}

/// A blob being written. Dropping it without `commit` removes the temp file.
pub struct BlobWriter {
    store: ContentStore,
    tmp: Option<PathBuf>,
    w: Option<PipedHashWriter<File>>,
    expected: Option<Digest>,
    expected_size: Option<u64>,
    /// how far the file's writeback has been started (see [`WRITEBACK_STEP`])
    kicked: u64,
}

/// A large blob's pages are handed to writeback every this many bytes while it is written
/// (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not wait), so the fsync of `commit`
/// finds most of the data on its way to the disk instead of starting all of it at the end.
/// The fsync stays: only it makes the blob durable.
const WRITEBACK_STEP: u64 = 4 << 20;

impl BlobWriter {
    pub fn written(&self) -> u64 {
        self.w.as_ref().map(|w| w.written()).unwrap_or(0)
    }

    /// Verify, fsync and move into place; returns the digest.
    pub fn commit(self) -> Result<Digest> {
        let (d, dir) = self.commit_named()?;
        fsync_dir(&dir)?;
        Ok(d)
    }

    /// [`commit`](Self::commit) but for the fsync of the blob's directory entry: durable
    /// once [`ContentStore::sync_names`] ran (the content itself is fsynced here).
    pub fn commit_deferred(self) -> Result<Digest> {
        Ok(self.commit_named()?.0)
    }

    /// The digest and the directory the blob was renamed into.
    fn commit_named(mut self) -> Result<(Digest, PathBuf)> {
        let tmp = self.tmp.clone().expect("writer used after commit");
        let w = self.w.take().expect("writer used after commit");
        let (f, digest, n) = w.finish().ctx(|| format!("write {}", tmp.display()))?;
        if let Some(size) = self.expected_size {
            if size != n {
                return Err(Error::SizeMismatch {
                    what: format!("blob {}", self.expected.as_ref().unwrap_or(&digest)),
                    expected: size,
                    actual: n,
                });
            }
        }
        if let Some(e) = &self.expected {
            if *e != digest {
                return Err(Error::DigestMismatch {
                    what: "blob".into(),
                    expected: e.to_string(),
                    actual: digest.to_string(),
                });
            }
        }
        f.sync_all().ctx(|| format!("fsync {}", tmp.display()))?;
        drop(f);
        let dst = self.store.path(&digest);
        fs::rename(&tmp, &dst).ctx(|| format!("rename {} to {}", tmp.display(), dst.display()))?;
        self.tmp = None;
        let dir = dst.parent().unwrap().to_path_buf();
        Ok((digest, dir))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let w = self.w.as_mut().expect("writer used after commit");
        let n = w.write(buf)?;
        // bytes in the file (the rest is still gathered in memory)
        let in_file = w.in_inner();
        if in_file - self.kicked >= WRITEBACK_STEP {
            let len = (in_file - self.kicked) as libc::off64_t;
            // SAFETY: the file's own fd; an advisory call that reads no memory of ours.
            // A failure only means the fsync will do all the work, as without this.
            unsafe {
                libc::sync_file_range(
                    w.inner().as_raw_fd(),
                    self.kicked as libc::off64_t,
                    len,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.kicked = in_file;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.w.as_mut().expect("writer used after commit").flush()
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Some(t) = self.tmp.take() {
            let _ = fs::remove_file(t);
        }
    }
}
