//! The transactional image index (SQLite): images, tags (name:tag → manifest
//! digest), repository digests, layer sizes, blob sources (for cross-repository
//! mounts) and snapshots. One row change per transaction; WAL mode and a busy
//! timeout let several `berth` processes share it.

use crate::digest::Digest;
use crate::error::{Error, Result};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRecord {
    /// Digest of the platform manifest stored in the content store.
    pub manifest: Digest,
    /// Digest of the image config: docker's image id.
    pub config: Digest,
    pub media_type: String,
    /// RFC 3339 creation time from the config, may be empty.
    pub created: String,
    /// Unpacked size of all layers in bytes.
    pub size: u64,
    /// When this image was added to the store (RFC 3339).
    pub added: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnapshotRecord {
    pub id: String,
    pub image: Digest,
    pub kind: String,
    pub created: String,
}

pub struct Index {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS images (
    manifest TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    media_type TEXT NOT NULL,
    created TEXT NOT NULL,
    size INTEGER NOT NULL,
    added TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY,
    manifest TEXT NOT NULL REFERENCES images(manifest),
    tagged TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS repo_digests (
    repo TEXT NOT NULL,
    digest TEXT NOT NULL,
    manifest TEXT NOT NULL REFERENCES images(manifest),
    PRIMARY KEY (repo, digest)
);
CREATE TABLE IF NOT EXISTS layers (
    diff_id TEXT PRIMARY KEY,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS kept_layers (
    id TEXT PRIMARY KEY,
    boot TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS blob_sources (
    digest TEXT NOT NULL,
    registry TEXT NOT NULL,
    repository TEXT NOT NULL,
    PRIMARY KEY (digest, registry, repository)
);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY,
    image TEXT NOT NULL,
    kind TEXT NOT NULL,
    created TEXT NOT NULL
);
";

fn row_to_image(
    r: &rusqlite::Row<'_>,
) -> rusqlite::Result<(String, String, String, String, i64, String)> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
    ))
}

fn to_record(t: (String, String, String, String, i64, String)) -> Result<ImageRecord> {
    Ok(ImageRecord {
        manifest: Digest::parse(&t.0)?,
        config: Digest::parse(&t.1)?,
        media_type: t.2,
        created: t.3,
        size: t.4 as u64,
        added: t.5,
    })
}

pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// A metadata database of a berth root with the tables of `schema` (idempotent statements; see
/// `metadb::open`), waiting up to 30 s for a lock.
pub fn open_db(path: &Path, schema: &str) -> rusqlite::Result<Connection> {
    metadb::open(path, BUSY_TIMEOUT, |c| c.execute_batch(schema))
}

/// How long a connection waits for another's lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// See `metadb::tidy_wal`.
pub fn tidy_wal(conn: &Connection, path: &Path) {
    metadb::tidy_wal(conn, path, BUSY_TIMEOUT)
}

impl Index {
    pub fn open(path: &Path) -> Result<Self> {
        let err = |source| Error::Index {
            path: path.to_path_buf(),
            source,
        };
        let conn = open_db(path, SCHEMA).map_err(err)?;
        Ok(Index {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    /// See [`tidy_wal`].
    pub fn tidy(&self) {
        if let Ok(c) = self.conn.try_lock() {
            tidy_wal(&c, &self.path);
        }
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> Error + '_ {
        move |source| Error::Index {
            path: self.path.clone(),
            source,
        }
    }

    /// Add (or refresh) an image and point `tags` at it, in one transaction.
    /// Returns the manifests that lost their last tag.
    pub fn add_image(
        &self,
        rec: &ImageRecord,
        tags: &[String],
        repo_digest: Option<(&str, &Digest)>,
    ) -> Result<()> {
        let mut c = self.conn.lock().unwrap();
        let tx = c
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(self.err())?;
        tx.execute(
            "INSERT INTO images (manifest, config, media_type, created, size, added) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(manifest) DO UPDATE SET size = excluded.size",
            params![
                rec.manifest.as_str(),
                rec.config.as_str(),
                rec.media_type,
                rec.created,
                rec.size as i64,
                rec.added
            ],
        )
        .map_err(self.err())?;
        let now = now_rfc3339();
        for t in tags {
            tx.execute(
                "INSERT INTO tags (name, manifest, tagged) VALUES (?1, ?2, ?3)
                 ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, tagged = excluded.tagged",
                params![t, rec.manifest.as_str(), now],
            )
            .map_err(self.err())?;
        }
        if let Some((repo, d)) = repo_digest {
            tx.execute(
                "INSERT OR REPLACE INTO repo_digests (repo, digest, manifest) VALUES (?1, ?2, ?3)",
                params![repo, d.as_str(), rec.manifest.as_str()],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// Fold the write-ahead log back into the database file and truncate it.
    pub fn checkpoint(&self) -> Result<()> {
        let c = self.conn.lock().unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(self.err())
    }

    pub fn set_tag(&self, name: &str, manifest: &Digest) -> Result<()> {
        let c = self.conn.lock().unwrap();
        c.execute(
            "INSERT INTO tags (name, manifest, tagged) VALUES (?1, ?2, ?3)
             ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, tagged = excluded.tagged",
            params![name, manifest.as_str(), now_rfc3339()],
        )
        .map_err(self.err())?;
        Ok(())
    }

    /// Remove a tag; returns whether it existed.
    pub fn remove_tag(&self, name: &str) -> Result<bool> {
        let c = self.conn.lock().unwrap();
        let n = c
            .execute("DELETE FROM tags WHERE name = ?1", params![name])
            .map_err(self.err())?;
        Ok(n > 0)
    }

    pub fn tag(&self, name: &str) -> Result<Option<Digest>> {
        let c = self.conn.lock().unwrap();
        let v: Option<String> = c
            .query_row(
                "SELECT manifest FROM tags WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        v.map(|s| Digest::parse(&s)).transpose()
    }

    pub fn tag_time(&self, name: &str) -> Result<Option<String>> {
        let c = self.conn.lock().unwrap();
        c.query_row(
            "SELECT tagged FROM tags WHERE name = ?1",
            params![name],
            |r| r.get(0),
        )
        .optional()
        .map_err(self.err())
    }

    pub fn tags_of(&self, manifest: &Digest) -> Result<Vec<String>> {
        let c = self.conn.lock().unwrap();
        let mut st = c
            .prepare("SELECT name FROM tags WHERE manifest = ?1 ORDER BY name")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![manifest.as_str()], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(self.err())
    }

    pub fn repo_digests_of(&self, manifest: &Digest) -> Result<Vec<(String, Digest)>> {
        let c = self.conn.lock().unwrap();
        let mut st = c
            .prepare("SELECT repo, digest FROM repo_digests WHERE manifest = ?1 ORDER BY repo")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![manifest.as_str()], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(self.err())?;
        let v = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        v.into_iter()
            .map(|(r, d)| Ok((r, Digest::parse(&d)?)))
            .collect()
    }

    /// Find an image whose repository digest is `repo@digest`.
    pub fn by_repo_digest(&self, repo: &str, d: &Digest) -> Result<Option<Digest>> {
        let c = self.conn.lock().unwrap();
        let v: Option<String> = c
            .query_row(
                "SELECT manifest FROM repo_digests WHERE repo = ?1 AND digest = ?2",
                params![repo, d.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        v.map(|s| Digest::parse(&s)).transpose()
    }

    pub fn image(&self, manifest: &Digest) -> Result<Option<ImageRecord>> {
        let c = self.conn.lock().unwrap();
        let v = c
            .query_row(
                "SELECT manifest, config, media_type, created, size, added FROM images WHERE manifest = ?1",
                params![manifest.as_str()],
                row_to_image,
            )
            .optional()
            .map_err(self.err())?;
        v.map(to_record).transpose()
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>> {
        let c = self.conn.lock().unwrap();
        let mut st = c
            .prepare("SELECT manifest, config, media_type, created, size, added FROM images ORDER BY added DESC")
            .map_err(self.err())?;
        let rows = st.query_map([], row_to_image).map_err(self.err())?;
        let v = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        v.into_iter().map(to_record).collect()
    }

    /// All (name, manifest) tag pairs.
    pub fn all_tags(&self) -> Result<Vec<(String, Digest)>> {
        let c = self.conn.lock().unwrap();
        let mut st = c
            .prepare("SELECT name, manifest FROM tags ORDER BY name")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?;
        let v = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        v.into_iter()
            .map(|(n, d)| Ok((n, Digest::parse(&d)?)))
            .collect()
    }

    /// Delete an image row with its tags and repo digests, in one transaction.
    pub fn remove_image(&self, manifest: &Digest) -> Result<()> {
        let mut c = self.conn.lock().unwrap();
        let tx = c
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(self.err())?;
        for sql in [
            "DELETE FROM tags WHERE manifest = ?1",
            "DELETE FROM repo_digests WHERE manifest = ?1",
            "DELETE FROM images WHERE manifest = ?1",
        ] {
            tx.execute(sql, params![manifest.as_str()])
                .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    pub fn set_layer_size(&self, diff_id: &Digest, size: u64) -> Result<()> {
        let c = self.conn.lock().unwrap();
        c.execute(
            "INSERT OR REPLACE INTO layers (diff_id, size) VALUES (?1, ?2)",
            params![diff_id.as_str(), size as i64],
        )
        .map_err(self.err())?;
        Ok(())
    }

    pub fn layer_size(&self, diff_id: &Digest) -> Result<Option<u64>> {
        let c = self.conn.lock().unwrap();
        let v: Option<i64> = c
            .query_row(
                "SELECT size FROM layers WHERE diff_id = ?1",
                params![diff_id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err())?;
        Ok(v.map(|x| x as u64))
    }

    /// Forget a layer: its size, and its record if it is a kept layer (see `crate::kept`).
    pub fn remove_layer(&self, diff_id: &Digest) -> Result<()> {
        let mut c = self.conn.lock().unwrap();
        let tx = c.transaction().map_err(self.err())?;
        for sql in [
            "DELETE FROM layers WHERE diff_id = ?1",
            "DELETE FROM kept_layers WHERE id = ?1",
        ] {
            tx.execute(sql, params![diff_id.as_str()])
                .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())
    }

    /// Record kept layer `id` (a layer without a blob), made in boot `boot`.
    pub fn add_kept_layer(&self, id: &Digest, boot: &str) -> Result<()> {
        let c = self.conn.lock().unwrap();
        c.execute(
            "INSERT OR REPLACE INTO kept_layers (id, boot) VALUES (?1, ?2)",
            params![id.as_str(), boot],
        )
        .map_err(self.err())?;
        Ok(())
    }

    /// The boot kept layer `id` was made in; None when it is not a kept layer.
    pub fn kept_layer_boot(&self, id: &Digest) -> Result<Option<String>> {
        let c = self.conn.lock().unwrap();
        c.query_row(
            "SELECT boot FROM kept_layers WHERE id = ?1",
            params![id.as_str()],
            |r| r.get(0),
        )
        .optional()
        .map_err(self.err())
    }

    /// Every kept layer, with its boot.
    pub fn kept_layers(&self) -> Result<Vec<(Digest, String)>> {
        let c = self.conn.lock().unwrap();
        let mut st = c
            .prepare("SELECT id, boot FROM kept_layers")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(self.err())?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        rows.into_iter()
            .map(|(d, b)| Ok((Digest::parse(&d)?, b)))
            .collect()
    }

    pub fn add_blob_source(&self, d: &Digest, registry: &str, repository: &str) -> Result<()> {
        let c = self.conn.lock().unwrap();
        c.execute(
            "INSERT OR IGNORE INTO blob_sources (digest, registry, repository) VALUES (?1, ?2, ?3)",
            params![d.as_str(), registry, repository],
        )
        .map_err(self.err())?;
        Ok(())
    }

    pub fn blob_sources(&self, d: &Digest, registry: &str) -> Result<Vec<String>> {
        let c = self.conn.lock().unwrap();
        let mut st = c
            .prepare("SELECT repository FROM blob_sources WHERE digest = ?1 AND registry = ?2")
            .map_err(self.err())?;
        let rows = st
            .query_map(params![d.as_str(), registry], |r| r.get(0))
            .map_err(self.err())?;
        rows.collect::<rusqlite::Result<Vec<String>>>()
            .map_err(self.err())
    }

    pub fn add_snapshot(&self, s: &SnapshotRecord) -> Result<()> {
        let c = self.conn.lock().unwrap();
        c.execute(
            "INSERT INTO snapshots (id, image, kind, created) VALUES (?1, ?2, ?3, ?4)",
            params![s.id, s.image.as_str(), s.kind, s.created],
        )
        .map_err(self.err())?;
        Ok(())
    }

    pub fn snapshot(&self, id: &str) -> Result<Option<SnapshotRecord>> {
        Ok(self.snapshots()?.into_iter().find(|s| s.id == id))
    }

    pub fn snapshots(&self) -> Result<Vec<SnapshotRecord>> {
        let c = self.conn.lock().unwrap();
        let mut st = c
            .prepare("SELECT id, image, kind, created FROM snapshots ORDER BY id")
            .map_err(self.err())?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(self.err())?;
        let v = rows
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(self.err())?;
        v.into_iter()
            .map(|(id, image, kind, created)| {
                Ok(SnapshotRecord {
                    id,
                    image: Digest::parse(&image)?,
                    kind,
                    created,
                })
            })
            .collect()
    }

    pub fn remove_snapshot(&self, id: &str) -> Result<()> {
        let c = self.conn.lock().unwrap();
        c.execute("DELETE FROM snapshots WHERE id = ?1", params![id])
            .map_err(self.err())?;
        Ok(())
    }
}
