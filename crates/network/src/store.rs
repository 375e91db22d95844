//! The network state in sqlite: every SQL statement of the crate.
//!
//! Three tables: `networks` (a [`NetworkConfig`] as JSON per row), `endpoints` (a container's
//! attachment to a network) and `ports` (published ports). The [`crate::Manager`] opens the
//! file read-write ([`open`]) and changes it in IMMEDIATE transactions; the DNS server of a
//! network opens it read-only ([`open_read_only`]) and reads the same rows through the same
//! functions. The functions here take a `&Connection` (a transaction derefs to one), so the
//! caller decides what one transaction covers.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::{Endpoint, Error, NetworkConfig, PortMapping, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS endpoints (container_id TEXT NOT NULL, network_id TEXT NOT NULL, name TEXT NOT NULL, aliases TEXT NOT NULL, ip TEXT NOT NULL, mac TEXT NOT NULL, host_veth TEXT NOT NULL, PRIMARY KEY (container_id, network_id));
CREATE TABLE IF NOT EXISTS ports (container_id TEXT NOT NULL, network_id TEXT NOT NULL, host_ip TEXT NOT NULL, host_port INTEGER NOT NULL, container_port INTEGER NOT NULL, proto TEXT NOT NULL, container_ip TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS endpoints_network ON endpoints (network_id);
CREATE INDEX IF NOT EXISTS ports_container ON ports (container_id);
";

/// Columns added to `endpoints` after its first version: added to a store that lacks them.
const ENDPOINT_COLUMNS: &[&str] = &[
    "ALTER TABLE endpoints ADD COLUMN ip6 TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE endpoints ADD COLUMN links TEXT NOT NULL DEFAULT '[]'",
];

/// Open (creating, with its directory) the store at `db` for reading and writing: WAL, and
/// waiting up to a minute for another process's write lock.
pub(crate) fn open(db: &Path) -> Result<Connection> {
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::Io {
            context: format!("creating {}", dir.display()),
            source: e,
        })?;
    }
    // (the first opens of a fresh root race; metadb::open tries again)
    Ok(metadb::open(db, BUSY_TIMEOUT, |conn| {
        conn.execute_batch(SCHEMA)?;
        for add in ENDPOINT_COLUMNS {
            match conn.execute(add, []) {
                Err(e) if e.to_string().contains("duplicate column") => {}
                r => {
                    r?;
                }
            }
        }
        Ok(())
    })?)
}

/// How long a connection waits for another's lock.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(60);

/// Open an existing store read-only (the DNS server), waiting up to 2 s for a lock.
pub(crate) fn open_read_only(db: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(2))?;
    Ok(conn)
}

// ---------------------------------------------------------------------------------------------
// networks

fn parse_network(name: String, data: &str) -> Result<NetworkConfig> {
    serde_json::from_str(data).map_err(|e| Error::Corrupt(name, e.to_string()))
}

/// All networks, by name.
pub(crate) fn networks(conn: &Connection) -> Result<Vec<NetworkConfig>> {
    let mut st = conn.prepare("SELECT name, data FROM networks ORDER BY name")?;
    let rows = st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (name, data) = row?;
        out.push(parse_network(name, &data)?);
    }
    Ok(out)
}

/// The row of network `id` as stored: its name and its JSON (read as is by the DNS server,
/// which takes only the addresses from it).
pub(crate) fn network_row(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<(String, String)>> {
    conn.query_row("SELECT name, data FROM networks WHERE id = ?1", [id], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })
    .optional()
}

pub(crate) fn network_by_id(conn: &Connection, id: &str) -> Result<Option<NetworkConfig>> {
    network_row(conn, id)?
        .map(|(name, data)| parse_network(name, &data))
        .transpose()
}

pub(crate) fn insert_network(conn: &Connection, n: &NetworkConfig) -> Result<()> {
    let data = serde_json::to_string(n).expect("network config serialises");
    conn.execute(
        "INSERT INTO networks (id, name, data) VALUES (?1, ?2, ?3)",
        params![n.id, n.name, data],
    )?;
    Ok(())
}

/// The network's row and the rows of its published ports.
pub(crate) fn delete_network(conn: &Connection, id: &str) -> Result<()> {
    conn.execute("DELETE FROM ports WHERE network_id = ?1", [id])?;
    conn.execute("DELETE FROM networks WHERE id = ?1", [id])?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// endpoints

/// An `endpoints` row as stored. Columns read as NULL (a db written by hand, as the DNS tests
/// do) are empty.
pub(crate) struct EndpointRow {
    pub(crate) container_id: String,
    pub(crate) network_id: String,
    pub(crate) name: String,
    /// JSON list of strings
    pub(crate) aliases: String,
    pub(crate) ip: String,
    pub(crate) mac: String,
    pub(crate) host_veth: String,
    /// "" without an IPv6 address
    pub(crate) ip6: String,
    /// JSON list of "target:alias"
    pub(crate) links: String,
}

/// Which endpoints to read.
#[derive(Clone, Copy)]
pub(crate) enum EndpointsOf<'a> {
    Network(&'a str),
    Container(&'a str),
}

/// The endpoints of a network or of a container, by network and address.
pub(crate) fn endpoint_rows(
    conn: &Connection,
    of: EndpointsOf<'_>,
) -> rusqlite::Result<Vec<EndpointRow>> {
    let (column, arg) = match of {
        EndpointsOf::Network(id) => ("network_id", id),
        EndpointsOf::Container(id) => ("container_id", id),
    };
    let sql = |extra: &str| {
        format!(
            "SELECT container_id, network_id, name, aliases, ip, mac, host_veth, {extra} FROM endpoints WHERE {column} = ?1 ORDER BY network_id, ip"
        )
    };
    // a store not yet given the later columns (read-only readers never add them) reads as
    // without v6 addresses and links
    let mut st = match conn.prepare(&sql("ip6, links")) {
        Err(e) if e.to_string().contains("no such column") => {
            conn.prepare(&sql("'' AS ip6, '[]' AS links"))?
        }
        r => r?,
    };
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> {
        Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
    };
    let rows = st.query_map([arg], |r| {
        Ok(EndpointRow {
            container_id: text(r, 0)?,
            network_id: text(r, 1)?,
            name: text(r, 2)?,
            aliases: text(r, 3)?,
            ip: text(r, 4)?,
            mac: text(r, 5)?,
            host_veth: text(r, 6)?,
            ip6: text(r, 7)?,
            links: text(r, 8)?,
        })
    })?;
    rows.collect()
}

pub(crate) fn count_endpoints(conn: &Connection, network_id: &str) -> Result<i64> {
    Ok(conn.query_row(
        "SELECT COUNT(*) FROM endpoints WHERE network_id = ?1",
        [network_id],
        |r| r.get(0),
    )?)
}

pub(crate) fn insert_endpoint(conn: &Connection, ep: &Endpoint) -> Result<()> {
    conn.execute(
        "INSERT INTO endpoints (container_id, network_id, name, aliases, ip, mac, host_veth, ip6, links) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            ep.container_id,
            ep.network_id,
            ep.name,
            serde_json::to_string(&ep.aliases).expect("aliases serialise"),
            ep.ip.to_string(),
            ep.mac,
            ep.host_veth,
            ep.ip6.map(|a| a.to_string()).unwrap_or_default(),
            serde_json::to_string(&ep.links).expect("links serialise")
        ],
    )?;
    Ok(())
}

pub(crate) fn delete_endpoint(
    conn: &Connection,
    container_id: &str,
    network_id: &str,
) -> Result<()> {
    conn.execute(
        "DELETE FROM endpoints WHERE container_id = ?1 AND network_id = ?2",
        params![container_id, network_id],
    )?;
    Ok(())
}

/// The containers with an endpoint or a published port.
pub(crate) fn container_ids(conn: &Connection) -> Result<Vec<String>> {
    let mut st =
        conn.prepare("SELECT container_id FROM endpoints UNION SELECT container_id FROM ports")?;
    let rows = st.query_map([], |r| r.get::<_, String>(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

// ---------------------------------------------------------------------------------------------
// ports

/// A `ports` row: a mapping and whose it is.
#[derive(Clone, Debug)]
pub(crate) struct PortRow {
    pub(crate) container_id: String,
    pub(crate) network_id: String,
    /// "" = all host addresses
    pub(crate) host_ip: String,
    pub(crate) host_port: u16,
    pub(crate) container_port: u16,
    pub(crate) proto: String,
}

/// Every published port on the host (of this store).
pub(crate) fn all_ports(conn: &Connection) -> Result<Vec<PortRow>> {
    let mut st = conn.prepare(
        "SELECT container_id, network_id, host_ip, host_port, container_port, proto FROM ports",
    )?;
    let rows = st.query_map([], |r| {
        Ok(PortRow {
            container_id: r.get(0)?,
            network_id: r.get(1)?,
            host_ip: r.get(2)?,
            host_port: r.get(3)?,
            container_port: r.get(4)?,
            proto: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The published ports of a container, by container port.
pub(crate) fn ports_of(conn: &Connection, container_id: &str) -> Result<Vec<PortMapping>> {
    let mut st = conn.prepare(
        "SELECT host_ip, host_port, container_port, proto FROM ports WHERE container_id = ?1 ORDER BY container_port, proto, host_ip",
    )?;
    let rows = st.query_map([container_id], |r| {
        Ok(PortMapping {
            host_ip: r.get(0)?,
            host_port: r.get(1)?,
            container_port: r.get(2)?,
            proto: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Record `m` as published by the container's endpoint at `container_ip`.
pub(crate) fn insert_port(
    conn: &Connection,
    container_id: &str,
    network_id: &str,
    container_ip: Ipv4Addr,
    m: &PortMapping,
) -> Result<()> {
    conn.execute(
        "INSERT INTO ports (container_id, network_id, host_ip, host_port, container_port, proto, container_ip) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![container_id, network_id, m.host_ip, m.host_port, m.container_port, m.proto, container_ip.to_string()],
    )?;
    Ok(())
}

/// The row of one published port (host address, host port and protocol of `m`).
pub(crate) fn delete_port(
    conn: &Connection,
    container_id: &str,
    network_id: &str,
    m: &PortMapping,
) -> Result<()> {
    conn.execute(
        "DELETE FROM ports WHERE container_id = ?1 AND network_id = ?2 AND host_ip = ?3 AND host_port = ?4 AND proto = ?5",
        params![container_id, network_id, m.host_ip, m.host_port, m.proto],
    )?;
    Ok(())
}

/// How many ports the container publishes (on `network_id` only, when given).
pub(crate) fn count_ports(
    conn: &Connection,
    container_id: &str,
    network_id: Option<&str>,
) -> Result<i64> {
    Ok(match network_id {
        Some(n) => conn.query_row(
            "SELECT COUNT(*) FROM ports WHERE container_id = ?1 AND network_id = ?2",
            params![container_id, n],
            |r| r.get(0),
        )?,
        None => conn.query_row(
            "SELECT COUNT(*) FROM ports WHERE container_id = ?1",
            [container_id],
            |r| r.get(0),
        )?,
    })
}

/// The rows of the container's published ports (on `network_id` only, when given).
pub(crate) fn delete_ports(
    conn: &Connection,
    container_id: &str,
    network_id: Option<&str>,
) -> Result<()> {
    match network_id {
        Some(n) => conn.execute(
            "DELETE FROM ports WHERE container_id = ?1 AND network_id = ?2",
            params![container_id, n],
        )?,
        None => conn.execute("DELETE FROM ports WHERE container_id = ?1", [container_id])?,
    };
    Ok(())
}
