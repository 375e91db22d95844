//! The step cache: a step's key (parent image, instruction, build args, content) to the image
//! it made, in `build-cache.db` of the engine's root.

use engine::engine::Engine;
use engine::Result;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

pub(super) struct Cache {
    db: Option<rusqlite::Connection>,
    /// the steps this build found or made (key, image), for `--cache-to`
    pub(super) used: Vec<(String, String)>,
}

impl Cache {
    pub(super) fn open(engine: &Engine) -> Cache {
        let db = rusqlite::Connection::open(engine.root.join("build-cache.db"))
            .and_then(|db| {
                db.busy_timeout(std::time::Duration::from_secs(30))?;
                db.pragma_update(None, "journal_mode", "WAL")?;
                db.execute_batch(
                    "CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, image TEXT NOT NULL)",
                )?;
                Ok(db)
            })
            .ok();
        Cache {
            db,
            used: Vec::new(),
        }
    }

    /// The image of step `key` (it counts as used by this build then).
    pub(super) fn get(&mut self, key: &str) -> Option<String> {
        let found = self.lookup(key)?;
        self.used.push((key.to_string(), found.clone()));
        Some(found)
    }

    fn lookup(&self, key: &str) -> Option<String> {
        self.db
            .as_ref()?
            .query_row("SELECT image FROM steps WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ok()
            .flatten()
    }

    /// Forget every step; the images the steps made.
    pub(super) fn clear(&self) -> Result<Vec<String>> {
        let Some(db) = &self.db else {
            return Ok(Vec::new());
        };
        let tx = db.unchecked_transaction()?;
        let ids = {
            let mut st = tx.prepare("SELECT DISTINCT image FROM steps")?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()?
        };
        tx.execute("DELETE FROM steps", [])?;
        tx.commit()?;
        Ok(ids)
    }

    pub(super) fn put(&mut self, key: &str, image: &str) {
        self.used.push((key.to_string(), image.to_string()));
        self.import(key, image);
    }

    /// A step from elsewhere (`--cache-from`): known here from now on.
    pub(super) fn import(&self, key: &str, image: &str) {
        if let Some(db) = &self.db {
            let _ = db.execute(
                "INSERT INTO steps (key, image) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET image = ?2",
                [key, image],
            );
        }
    }
}

pub(super) fn cache_key(parent: &str, text: &str, extra: &str) -> String {
    let mut h = Sha256::new();
    h.update(parent.as_bytes());
    h.update([0]);
    h.update(text.as_bytes());
    h.update([0]);
    h.update(extra.as_bytes());
    format!("{:x}", h.finalize())
}
