//! The metadata store: one sqlite file (WAL journal) holding containers, names and volumes.
//! Every change is one transaction, so a `kill -9` at any moment leaves either the old or the new
//! record, never half of one. The monitor and the CLI write concurrently: `update` reads and
//! writes inside one IMMEDIATE transaction so neither loses the other's change.

use crate::error::{Error, Result};
use crate::types::{Container, Volume};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use std::cell::{Ref, RefCell};
use std::path::{Path, PathBuf};

pub struct Store {
    path: PathBuf,
    /// None once [`Store::close`]d, opened again by the next call that needs it
    db: RefCell<Option<Connection>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store> {
        Ok(Store {
            path: path.to_path_buf(),
            db: RefCell::new(Some(connect(path)?)),
        })
    }

    /// Lets go of the connection and everything sqlite holds for it (its page cache and
    /// lookaside memory, some 200 KiB of heap): the monitor does once its container runs, as it
    /// may not touch the store again for days; the next call opens it again.
    pub fn close(&self) {
        if let Ok(mut db) = self.db.try_borrow_mut() {
            *db = None;
        }
    }

    /// Keep the WAL short, if the store is open (see `metadb::tidy_wal`).
    pub fn tidy(&self) {
        if let Ok(db) = self.db.try_borrow() {
            if let Some(c) = db.as_ref() {
                image::index::tidy_wal(c, &self.path);
            }
        }
    }

    /// The connection, opened again after a [`Store::close`].
    fn conn(&self) -> Result<Ref<'_, Connection>> {
        if self.db.borrow().is_none() {
            let c = connect(&self.path)?;
            *self.db.borrow_mut() = Some(c);
        }
        Ok(Ref::map(self.db.borrow(), |d| {
            d.as_ref().expect("opened just above")
        }))
    }

    /// Insert a new container; its name must be free.
    pub fn insert(&self, c: &Container) -> Result<()> {
        let name = c.short_name();
        let db = self.conn()?;
        let tx = tx(&db)?;
        if let Some(other) = tx
            .query_row(
                "SELECT id FROM containers WHERE name = ?1",
                params![name],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            return Err(Error::NameInUse {
                name: name.to_string(),
                id: other,
            });
        }
        tx.execute(
            "INSERT INTO containers (id, name, data) VALUES (?1, ?2, ?3)",
            params![c.id, name, serde_json::to_string(c)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn get(&self, id: &str) -> Result<Option<Container>> {
        let data: Option<String> = self
            .conn()?
            .query_row(
                "SELECT data FROM containers WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        data.map(|d| decode(&d)).transpose()
    }

    pub fn all(&self) -> Result<Vec<Container>> {
        let db = self.conn()?;
        let mut st = db.prepare("SELECT data FROM containers")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(decode(&r?)?);
        }
        Ok(out)
    }

    /// Find a container by full id, name (with or without '/'), or unique id prefix.
    pub fn find(&self, key: &str) -> Result<Container> {
        let name = key.strip_prefix('/').unwrap_or(key);
        let by_name: Option<String> = self
            .conn()?
            .query_row(
                "SELECT data FROM containers WHERE id = ?1 OR name = ?2",
                params![key, name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(d) = by_name {
            return decode(&d);
        }
        if !key.is_empty() && key.bytes().all(|b| b.is_ascii_hexdigit()) {
            let db = self.conn()?;
            let mut st =
                db.prepare("SELECT data FROM containers WHERE id LIKE ?1 || '%' LIMIT 2")?;
            let hits: Vec<String> = st
                .query_map(params![key.to_ascii_lowercase()], |r| r.get(0))?
                .collect::<std::result::Result<_, _>>()?;
            match hits.len() {
                1 => return decode(&hits[0]),
                0 => {}
                _ => return Err(Error::Ambiguous(key.to_string())),
            }
        }
        Err(Error::NoSuchContainer(key.to_string()))
    }

    /// Read-modify-write one container in a single transaction. Returns the new record.
    pub fn update<F: FnOnce(&mut Container)>(&self, id: &str, f: F) -> Result<Container> {
        let db = self.conn()?;
        let tx = tx(&db)?;
        let data: Option<String> = tx
            .query_row(
                "SELECT data FROM containers WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?;
        let Some(data) = data else {
            return Err(Error::NoSuchContainer(id.to_string()));
        };
        let mut c = decode(&data)?;
        f(&mut c);
        tx.execute(
            "UPDATE containers SET data = ?2 WHERE id = ?1",
            params![id, serde_json::to_string(&c)?],
        )?;
        tx.commit()?;
        Ok(c)
    }

    /// Rename: the new name must be free.
    pub fn rename(&self, id: &str, new: &str) -> Result<()> {
        let db = self.conn()?;
        let tx = tx(&db)?;
        if let Some(other) = tx
            .query_row(
                "SELECT id FROM containers WHERE name = ?1",
                params![new],
                |r| r.get::<_, String>(0),
            )
            .optional()?
        {
            return Err(Error::NameInUse {
                name: new.to_string(),
                id: other,
            });
        }
        let data: String = tx
            .query_row(
                "SELECT data FROM containers WHERE id = ?1",
                params![id],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::NoSuchContainer(id.to_string()))?;
        let mut c = decode(&data)?;
        c.name = format!("/{new}");
        tx.execute(
            "UPDATE containers SET name = ?2, data = ?3 WHERE id = ?1",
            params![id, new, serde_json::to_string(&c)?],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn remove(&self, id: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM containers WHERE id = ?1", params![id])?;
        Ok(())
    }

    pub fn name_taken(&self, name: &str) -> Result<bool> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT 1 FROM containers WHERE name = ?1",
                params![name],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    // ---- volumes ----

    /// Insert a volume unless one of that name exists; returns the stored one either way.
    pub fn insert_volume(&self, v: &Volume) -> Result<(Volume, bool)> {
        let db = self.conn()?;
        let tx = tx(&db)?;
        let existing: Option<String> = tx
            .query_row(
                "SELECT data FROM volumes WHERE name = ?1",
                params![v.name],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(d) = existing {
            return Ok((serde_json::from_str(&d)?, false));
        }
        tx.execute(
            "INSERT INTO volumes (name, data) VALUES (?1, ?2)",
            params![v.name, serde_json::to_string(v)?],
        )?;
        tx.commit()?;
        Ok((v.clone(), true))
    }

    pub fn volume(&self, name: &str) -> Result<Option<Volume>> {
        let d: Option<String> = self
            .conn()?
            .query_row(
                "SELECT data FROM volumes WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?;
        Ok(d.map(|d| serde_json::from_str(&d)).transpose()?)
    }

    pub fn volumes(&self) -> Result<Vec<Volume>> {
        let db = self.conn()?;
        let mut st = db.prepare("SELECT data FROM volumes ORDER BY name")?;
        let rows = st.query_map([], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(serde_json::from_str(&r?)?);
        }
        Ok(out)
    }

    pub fn update_volume<F: FnOnce(&mut Volume)>(&self, name: &str, f: F) -> Result<Volume> {
        let db = self.conn()?;
        let tx = tx(&db)?;
        let d: String = tx
            .query_row(
                "SELECT data FROM volumes WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()?
            .ok_or_else(|| Error::NoSuchVolume(name.to_string()))?;
        let mut v: Volume = serde_json::from_str(&d)?;
        f(&mut v);
        tx.execute(
            "UPDATE volumes SET data = ?2 WHERE name = ?1",
            params![name, serde_json::to_string(&v)?],
        )?;
        tx.commit()?;
        Ok(v)
    }

    pub fn remove_volume(&self, name: &str) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM volumes WHERE name = ?1", params![name])?;
        Ok(())
    }

    // ---- small settings (e.g. the boot id the last reconcile saw) ----

    pub fn get_kv(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn()?
            .query_row("SELECT value FROM kv WHERE key = ?1", params![key], |r| {
                r.get(0)
            })
            .optional()?)
    }

    pub fn set_kv(&self, key: &str, value: &str) -> Result<()> {
        self.conn()?.execute(
            "INSERT INTO kv (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2",
            params![key, value],
        )?;
        Ok(())
    }
}

/// A write transaction on `db`. IMMEDIATE takes the write lock up front: two writers queue
/// (busy_timeout) instead of one failing with SQLITE_BUSY when it upgrades from read to write.
fn tx(db: &Connection) -> Result<rusqlite::Transaction<'_>> {
    Ok(rusqlite::Transaction::new_unchecked(
        db,
        TransactionBehavior::Immediate,
    )?)
}

fn connect(path: &Path) -> Result<Connection> {
    // the settings of every metadata database of a root (WAL, synchronous=NORMAL, no
    // checkpoint at close): one opener for them all
    Ok(image::index::open_db(
        path,
        "CREATE TABLE IF NOT EXISTS containers (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                data TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS volumes (
                name TEXT PRIMARY KEY,
                data TEXT NOT NULL
            );
            CREATE TABLE IF NOT EXISTS kv (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL
            );",
    )?)
}

fn decode(d: &str) -> Result<Container> {
    Ok(serde_json::from_str(d)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(id: &str, name: &str) -> Container {
        Container {
            id: id.into(),
            name: format!("/{name}"),
            ..Default::default()
        }
    }

    #[test]
    fn names_are_unique_and_lookup_works_by_name_id_and_prefix() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db")).unwrap();
        s.insert(&c("abcdef01", "web")).unwrap();
        s.insert(&c("abcdef02", "db")).unwrap();
        let e = s.insert(&c("99", "web")).unwrap_err();
        assert!(e.to_string().contains("already in use"), "{e}");
        assert_eq!(s.find("web").unwrap().id, "abcdef01");
        assert_eq!(s.find("/db").unwrap().id, "abcdef02");
        assert_eq!(s.find("abcdef02").unwrap().short_name(), "db");
        assert!(matches!(s.find("abcdef"), Err(Error::Ambiguous(_))));
        assert!(matches!(s.find("nope"), Err(Error::NoSuchContainer(_))));
        s.rename("abcdef01", "web2").unwrap();
        assert!(s.find("web").is_err());
        assert_eq!(s.find("web2").unwrap().name, "/web2");
        assert!(s.rename("abcdef02", "web2").is_err());
    }

    #[test]
    fn a_closed_store_opens_again_when_used() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db");
        let s = Store::open(&p).unwrap();
        s.insert(&c("a1", "x")).unwrap();
        s.close();
        // another process (the CLI) changes the store meanwhile
        Store::open(&p)
            .unwrap()
            .update("a1", |c| c.restart_count = 7)
            .unwrap();
        assert_eq!(s.get("a1").unwrap().unwrap().restart_count, 7);
        s.close();
        s.update("a1", |c| c.restart_count += 1).unwrap();
        s.close();
        s.insert(&c("b2", "y")).unwrap();
        assert_eq!(s.find("y").unwrap().restart_count, 0);
        assert_eq!(s.all().unwrap().len(), 2);
        assert_eq!(s.get("a1").unwrap().unwrap().restart_count, 8);
    }

    #[test]
    fn update_is_read_modify_write() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("db");
        let s = Store::open(&p).unwrap();
        s.insert(&c("a1", "x")).unwrap();
        // two connections (CLI and monitor) each bump a counter 50 times
        let p2 = p.clone();
        let t = std::thread::spawn(move || {
            let s2 = Store::open(&p2).unwrap();
            for _ in 0..50 {
                s2.update("a1", |c| c.restart_count += 1).unwrap();
            }
        });
        for _ in 0..50 {
            s.update("a1", |c| c.restart_count += 1).unwrap();
        }
        t.join().unwrap();
        assert_eq!(s.get("a1").unwrap().unwrap().restart_count, 100);
    }

    #[test]
    fn volumes_insert_once() {
        let d = tempfile::tempdir().unwrap();
        let s = Store::open(&d.path().join("db")).unwrap();
        let v = Volume {
            name: "data".into(),
            ..Default::default()
        };
        assert!(s.insert_volume(&v).unwrap().1);
        assert!(!s.insert_volume(&v).unwrap().1);
        s.update_volume("data", |v| v.populated = true).unwrap();
        assert!(s.volume("data").unwrap().unwrap().populated);
        s.remove_volume("data").unwrap();
        assert!(s.volumes().unwrap().is_empty());
    }
}
