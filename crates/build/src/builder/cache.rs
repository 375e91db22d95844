//! The step cache: a step's key (parent image, instruction, build args, content) to the image
//! it made, in `build-cache.db` of the engine's root; and the steps a `--cache-from` brought,
//! for this build only (a cache source is trusted by the build that names it, not by the next).

use engine::engine::Engine;
use engine::Result;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

pub(super) struct Cache {
    db: Option<rusqlite::Connection>,
    /// the steps this build found or made (key, image), for `--cache-to`
    pub(super) used: Vec<(String, String)>,
    /// the steps imported for this build (`--cache-from`)
    pub(super) imported: std::collections::BTreeMap<String, String>,
}

impl Cache {
    pub(super) fn open(engine: &Engine) -> Cache {
        // a step recorded survives the build process; a machine crash may forget the last
        // steps (they are built again), never corrupts the cache
        let db = image::index::open_db(
            &engine.root.join("build-cache.db"),
            "CREATE TABLE IF NOT EXISTS steps (key TEXT PRIMARY KEY, image TEXT NOT NULL)",
        )
        .ok();
        Cache {
            db,
            used: Vec::new(),
            imported: Default::default(),
        }
    }

    /// The cache of another builder of the same build (a stage built at the same time), with
    /// the steps this build imported.
    pub(super) fn with_imported(
        engine: &Engine,
        imported: std::collections::BTreeMap<String, String>,
    ) -> Cache {
        let mut c = Cache::open(engine);
        c.imported = imported;
        c
    }

    /// The image of step `key` (it counts as used by this build then).
    pub(super) fn get(&mut self, key: &str) -> Option<String> {
        let found = self.lookup(key)?;
        self.used.push((key.to_string(), found.clone()));
        Some(found)
    }

    fn lookup(&self, key: &str) -> Option<String> {
        if let Some(img) = self.imported.get(key) {
            return Some(img.clone());
        }
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

    /// A step this build made: known here from now on.
    pub(super) fn put(&mut self, key: &str, image: &str) {
        self.used.push((key.to_string(), image.to_string()));
        if let Some(db) = &self.db {
            let _ = db.execute(
                "INSERT INTO steps (key, image) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET image = ?2",
                [key, image],
            );
        }
    }

    /// A step from elsewhere (`--cache-from`), for this build.
    pub(super) fn import(&mut self, key: &str, image: &str) {
        self.imported.insert(key.to_string(), image.to_string());
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
