//! Link plumbing over rtnetlink: bridges, veth pairs, addresses, routes.
//!
//! rtnetlink is async; each [`Nl`] owns a small current-thread tokio runtime and one
//! NETLINK_ROUTE socket, and blocks on every request. A netlink socket talks to the network
//! namespace its creating thread was in when it was opened, so configuring the inside of a
//! container is done by [`configure_inside`] on a dedicated thread that first setns()es into the
//! container's namespace: the caller's thread never changes namespace.

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::AsRawFd;
use std::path::Path;

use futures_util::TryStreamExt;
use rtnetlink::packet_route::address::{AddressAttribute, AddressFlags};
use rtnetlink::packet_route::link::{InfoData, InfoVeth, LinkAttribute, LinkFlags, LinkMessage};
use rtnetlink::{Handle, LinkBridge, LinkUnspec, LinkVeth, RouteMessageBuilder};

use crate::{Error, Result};

const ENODEV: i32 = libc::ENODEV;
const EEXIST: i32 = libc::EEXIST;
const ENOENT: i32 = libc::ENOENT;

fn errno(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => m.code.map(|c| -c.get()),
        _ => None,
    }
}

fn nl_err(op: impl Into<String>, e: rtnetlink::Error) -> Error {
    let detail = match &e {
        rtnetlink::Error::NetlinkError(m) => m.to_io().to_string(),
        other => other.to_string(),
    };
    Error::Netlink {
        op: op.into(),
        detail,
    }
}

pub(crate) struct Nl {
    rt: tokio::runtime::Runtime,
    handle: Handle,
}

impl Nl {
    /// A netlink connection in the calling thread's current network namespace.
    pub fn new() -> Result<Nl> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .build()
            .map_err(|e| Error::Io {
                context: "starting the netlink runtime".into(),
                source: e,
            })?;
        let (conn, handle) = rt.block_on(async {
            rtnetlink::new_connection()
                .map(|(conn, handle, _)| (conn, handle))
                .map_err(|e| Error::Io {
                    context: "opening a netlink socket".into(),
                    source: e,
                })
        })?;
        rt.spawn(conn);
        Ok(Nl { rt, handle })
    }

    pub fn link_index(&self, name: &str) -> Result<Option<u32>> {
        Ok(self.link_state(name)?.map(|(index, _)| index))
    }

    /// Link `name`'s index and whether it is up, from one request.
    fn link_state(&self, name: &str) -> Result<Option<(u32, bool)>> {
        let h = self.handle.clone();
        let r = self.rt.block_on(async {
            h.link()
                .get()
                .match_name(name.to_string())
                .execute()
                .try_next()
                .await
        });
        match r {
            Ok(Some(m)) => Ok(Some((
                m.header.index,
                m.header.flags.contains(LinkFlags::Up),
            ))),
            Ok(None) => Ok(None),
            Err(e) if matches!(errno(&e), Some(ENODEV) | Some(ENOENT)) => Ok(None),
            Err(e) => Err(nl_err(format!("looking up link {name}"), e)),
        }
    }

    fn require_index(&self, name: &str) -> Result<u32> {
        self.link_index(name)?.ok_or_else(|| Error::Netlink {
            op: format!("looking up link {name}"),
            detail: "no such device".into(),
        })
    }

    fn set(&self, op: String, msg: LinkMessage) -> Result<()> {
        let h = self.handle.clone();
        self.rt
            .block_on(async { h.link().set(msg).execute().await })
            .map_err(|e| nl_err(op, e))
    }

    /// Bring the link of index `idx` (named `name`) up.
    fn set_up_at(&self, idx: u32, name: &str) -> Result<()> {
        self.set(
            format!("setting link {name} up"),
            LinkUnspec::new_with_index(idx).up().build(),
        )
    }

    /// Add `ip/prefix` to the link of index `idx` (named `name`), replacing the same address;
    /// an IPv6 one without duplicate address detection (the address is ours to give: usable at
    /// once, never "tentative").
    pub fn add_address(&self, idx: u32, name: &str, ip: IpAddr, prefix: u8) -> Result<()> {
        let h = self.handle.clone();
        self.rt
            .block_on(async {
                let mut req = h.address().add(idx, ip, prefix).replace();
                if ip.is_ipv6() {
                    req.message_mut()
                        .attributes
                        .push(AddressAttribute::Flags(AddressFlags::Nodad));
                }
                req.execute().await
            })
            .map_err(|e| nl_err(format!("adding address {ip}/{prefix} to link {name}"), e))
    }

    /// Make bridge `name` exist, hold `gateway/prefix` and be up: one request when it does
    /// (the address is put again, which repairs a lost one), as each container's start asks.
    /// Returns whether the bridge had to be created, and its index.
    pub fn ensure_bridge(&self, name: &str, gateway: Ipv4Addr, prefix: u8) -> Result<(bool, u32)> {
        let (created, (idx, up)) = match self.link_state(name)? {
            Some(state) => (false, state),
            None => {
                let h = self.handle.clone();
                let r = self.rt.block_on(async {
                    h.link().add(LinkBridge::new(name).build()).execute().await
                });
                match r {
                    Ok(()) => {}
                    Err(e) if errno(&e) == Some(EEXIST) => {} // created concurrently
                    Err(e) => return Err(nl_err(format!("creating bridge {name}"), e)),
                }
                let state = self.link_state(name)?.ok_or_else(|| Error::Netlink {
                    op: format!("looking up bridge {name}"),
                    detail: "no such device right after its creation".into(),
                })?;
                (true, state)
            }
        };
        self.add_address(idx, name, IpAddr::V4(gateway), prefix)?;
        if !up {
            self.set_up_at(idx, name)?;
        }
        Ok((created, idx))
    }

    /// Delete link `name`; a missing link is not an error.
    pub fn delete_link(&self, name: &str) -> Result<()> {
        let Some(idx) = self.link_index(name)? else {
            return Ok(());
        };
        let h = self.handle.clone();
        match self
            .rt
            .block_on(async { h.link().del(idx).execute().await })
        {
            Ok(()) => Ok(()),
            Err(e) if matches!(errno(&e), Some(ENODEV) | Some(ENOENT)) => Ok(()),
            Err(e) => Err(nl_err(format!("deleting link {name}"), e)),
        }
    }

    /// Create veth pair `host` <-> `peer` with the peer created directly inside the network
    /// namespace open as `netns` (so its name cannot clash with host links), attach `host` to
    /// `bridge`, set hairpin mode and bring it up. Without `ipv6` (the network has none), IPv6
    /// is off on the host's end before it comes up: a bridge port needs no address of its own,
    /// and hundreds of them announcing link-local addresses flood the bridge (issue 20).
    pub fn create_veth(
        &self,
        host: &str,
        peer: &str,
        netns: &File,
        bridge: (&str, u32),
        ipv6: bool,
    ) -> Result<()> {
        let (bridge, bridge_idx) = bridge;
        let peer_msg = LinkUnspec::new_with_name(peer)
            .setns_by_fd(netns.as_raw_fd())
            .build();
        // attached to the bridge as it is made (the kernel removes it again if that fails)
        let msg = LinkVeth::new(host, peer)
            .controller(bridge_idx)
            .set_info_data(InfoData::Veth(InfoVeth::Peer(peer_msg)))
            .build();
        let h = self.handle.clone();
        self.rt
            .block_on(async { h.link().add(msg).execute().await })
            .map_err(|e| {
                nl_err(
                    format!("creating veth pair {host} / {peer} on bridge {bridge}"),
                    e,
                )
            })?;
        // hairpin: a container may reach its own published port through a host address, which
        // sends the frame back out of the port it came in on
        let _ = std::fs::write(format!("/sys/class/net/{host}/brport/hairpin_mode"), "1");
        if !ipv6 {
            set_ipv6(host, false);
        }
        self.set(
            format!("setting link {host} up"),
            LinkUnspec::new_with_name(host).up().build(),
        )
    }

    /// Inside a namespace: rename-free configuration of `ifname`.
    fn configure_iface(&self, ifname: &str, c: &Iface) -> Result<()> {
        let idx = self.require_index(ifname)?;
        self.set(
            format!("setting the mac address of {ifname}"),
            LinkUnspec::new_with_index(idx)
                .append_extra_attribute(LinkAttribute::Address(c.mac.clone()))
                .build(),
        )?;
        self.add_address(idx, ifname, IpAddr::V4(c.ip), c.prefix)?;
        if let Some((ip6, prefix6)) = c.ip6 {
            self.add_address(idx, ifname, IpAddr::V6(ip6), prefix6)?;
        }
        for ip in &c.link_local {
            // docker adds them as /16 (v4) and /64 (v6)
            self.add_address(idx, ifname, *ip, if ip.is_ipv4() { 16 } else { 64 })?;
        }
        self.set_up_at(idx, ifname)?;
        if let Some((lo, false)) = self.link_state("lo")? {
            self.set_up_at(lo, "lo")?;
        }
        if let Some(gw) = c.gateway6 {
            let h = self.handle.clone();
            let route = RouteMessageBuilder::<Ipv6Addr>::new()
                .gateway(gw)
                .output_interface(idx)
                .build();
            self.rt
                .block_on(async { h.route().add(route).replace().execute().await })
                .map_err(|e| nl_err(format!("adding default route via {gw} on {ifname}"), e))?;
        }
        if let Some(gw) = c.gateway {
            let h = self.handle.clone();
            let route = RouteMessageBuilder::<Ipv4Addr>::new()
                .gateway(gw)
                .output_interface(idx)
                .build();
            self.rt
                .block_on(async { h.route().add(route).replace().execute().await })
                .map_err(|e| nl_err(format!("adding default route via {gw} on {ifname}"), e))?;
        }
        Ok(())
    }
}

/// Turn IPv6 on or off on interface `ifname` of the calling thread's network namespace. Best
/// effort: a host without IPv6 has no such file, and the setting changes no reachability the
/// network promises (an interface without IPv6 on a network without it).
fn set_ipv6(ifname: &str, on: bool) {
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6");
    let want = if on { "0" } else { "1" };
    if std::fs::read_to_string(&path).is_ok_and(|v| v.trim() != want) {
        let _ = std::fs::write(&path, want);
    }
}

/// How a container's interface is configured.
pub(crate) struct Iface {
    pub mac: Vec<u8>,
    pub ip: Ipv4Addr,
    pub prefix: u8,
    /// the default route (none on an internal network)
    pub gateway: Option<Ipv4Addr>,
    pub ip6: Option<(Ipv6Addr, u8)>,
    pub gateway6: Option<Ipv6Addr>,
    pub link_local: Vec<IpAddr>,
}

/// Configure `ifname` inside the network namespace `netns` (MAC, addresses, up, lo up, default
/// routes) from a dedicated thread that setns()es there, so the caller's thread stays put.
pub(crate) fn configure_inside(netns: &Path, ifname: &str, iface: Iface) -> Result<()> {
    let ns = File::open(netns).map_err(|e| Error::Io {
        context: format!("opening network namespace {}", netns.display()),
        source: e,
    })?;
    let ifname = ifname.to_string();
    let nspath = netns.display().to_string();
    std::thread::scope(|s| {
        s.spawn(move || -> Result<()> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|e| {
                Error::Io {
                    context: format!("entering network namespace {nspath}"),
                    source: e.into(),
                }
            })?;
            let nl = Nl::new()?;
            // IPv6 on where the container has an address of it (a namespace may start with
            // it off), off elsewhere before the link comes up, as docker 26+: no link-local
            // address announced on a bridge without IPv6 (issue 20)
            let v6 = iface.ip6.is_some() || iface.link_local.iter().any(IpAddr::is_ipv6);
            set_ipv6(&ifname, v6);
            nl.configure_iface(&ifname, &iface)
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::Netlink {
                op: "configuring the container interface".into(),
                detail: "the netns thread panicked".into(),
            })
        })
    })
}
