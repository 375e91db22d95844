//! How berth opens and tends the sqlite metadata databases of a state root (the engine's
//! containers, the image index, the network store, the build cache): one owner for their
//! settings, so they cannot drift apart.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

/// Open (or create) a metadata database: WAL with `synchronous=NORMAL`, so a committed
/// transaction survives a crash of the process (not of the machine, where the last
/// transactions may roll back, still consistently) without an fsync per commit; and, for
/// short-lived CLI processes, no checkpoint (and its fsyncs) at every close: each run's monitor
/// closed the last connection, so the checkpoint, the WAL's removal and its re-creation were
/// paid by every run. sqlite's auto-checkpoint folds the WAL back as it grows, and
/// [`tidy_wal`] where nobody waits. `busy` is how long to wait for another's lock.
///
/// `setup` makes the database's tables (idempotent statements: `CREATE TABLE IF NOT EXISTS`).
/// Processes that open a new database at once (the first commands of a fresh root) race to
/// make it a WAL database and create its tables; the losers get SQLITE_BUSY at once, without
/// the busy timeout (sqlite's deadlock avoidance): they try again, the whole opening, until
/// `busy` has passed.
pub fn open(
    path: &Path,
    busy: Duration,
    setup: impl Fn(&Connection) -> rusqlite::Result<()>,
) -> rusqlite::Result<Connection> {
    let deadline = std::time::Instant::now() + busy;
    let mut wait = Duration::from_millis(2);
    loop {
        match open_once(path, busy).and_then(|c| setup(&c).map(|()| c)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_millis(200));
            }
            r => return r,
        }
    }
}

fn open_once(path: &Path, busy: Duration) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(busy)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    // ... so the WAL file stays: a process that opens it alone rebuilds its index by reading
    // all of it, and without a limit it keeps the size of its longest run (tens of MB after
    // 1,000 `run -d`, read again by every command). Cut back to this when sqlite rewinds it.
    conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    Ok(conn)
}

/// The size a WAL file is cut back to when sqlite rewinds it (`journal_size_limit`).
pub const WAL_SIZE_LIMIT: i64 = 1 << 20;

/// The WAL size past which [`tidy_wal`] folds it back.
const WAL_TIDY_AT: u64 = 128 << 10;

/// Fold the WAL of database `path` (open as `conn`) into the database and empty it, when it
/// has grown past 128 KiB and nobody is writing or reading an older snapshot (never waits;
/// `busy` is the connection's lock wait to restore after). The first process to open a
/// database alone rebuilds the WAL's index by reading the whole WAL, so every CLI command of
/// an idle root paid for it (up to sqlite's auto-checkpoint at 4 MB); a process with nobody
/// waiting for it (a monitor once its container's exit is told) keeps it short.
pub fn tidy_wal(conn: &Connection, path: &Path, busy: Duration) {
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    if std::fs::metadata(&wal).map_or(true, |m| m.len() <= WAL_TIDY_AT) {
        return;
    }
    let _ = conn.busy_timeout(Duration::ZERO);
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    let _ = conn.busy_timeout(busy);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Processes opening a new database at once all get it, with its tables: the first
    /// commands of a fresh root (`events` and `run` side by side) lost the race with
    /// "database is locked".
    #[test]
    fn concurrent_first_opens_of_a_new_database_all_succeed() {
        let d = tempfile::tempdir().unwrap();
        for round in 0..30 {
            let db = d.path().join(format!("r{round}.db"));
            let openers: Vec<_> = (0..6)
                .map(|_| {
                    let db = db.clone();
                    std::thread::spawn(move || {
                        open(&db, Duration::from_secs(30), |c| {
                            c.execute_batch(
                                "CREATE TABLE IF NOT EXISTS a (k TEXT PRIMARY KEY);
                                 CREATE TABLE IF NOT EXISTS b (k TEXT PRIMARY KEY);",
                            )
                        })
                        .map(drop)
                    })
                })
                .collect();
            for o in openers {
                o.join().unwrap().unwrap();
            }
        }
    }

    fn wal_len(db: &Path) -> u64 {
        std::fs::metadata(db.with_extension("db-wal")).map_or(0, |m| m.len())
    }

    /// A WAL past the threshold is folded back and emptied; the data stays; a reader holding
    /// an old snapshot makes it give up at once instead of waiting.
    #[test]
    fn tidy_wal_empties_a_long_wal_and_never_waits() {
        let d = tempfile::tempdir().unwrap();
        let db = d.path().join("t.db");
        let c = open(&db, Duration::from_secs(30), |_| Ok(())).unwrap();
        c.execute_batch("CREATE TABLE t (v BLOB)").unwrap();
        let fill = |c: &Connection| {
            for _ in 0..80 {
                c.execute("INSERT INTO t VALUES (zeroblob(4000))", [])
                    .unwrap();
            }
        };
        fill(&c);
        assert!(wal_len(&db) > WAL_TIDY_AT, "{}", wal_len(&db));

        // a reader in the middle of a transaction on another connection
        let r = open(&db, Duration::from_secs(30), |_| Ok(())).unwrap();
        r.execute_batch("BEGIN; SELECT count(*) FROM t;").unwrap();
        fill(&c);
        let t = Instant::now();
        tidy_wal(&c, &db, Duration::from_secs(30));
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
        assert!(wal_len(&db) > 0, "the WAL was emptied under a reader");
        r.execute_batch("COMMIT").unwrap();
        drop(r);

        tidy_wal(&c, &db, Duration::from_secs(30));
        assert_eq!(wal_len(&db), 0);
        let n: i64 = c
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 160);
        drop(c);
        let again = open(&db, Duration::from_secs(30), |_| Ok(())).unwrap();
        let n: i64 = again
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 160);
    }
}
