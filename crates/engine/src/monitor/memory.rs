//! The monitor lives as long as its container, mostly idle: what it holds then is paid once per
//! container. Starting a container is the heavy part (the store, spec parsing, the runtime's
//! setup, netlink), so the monitor gives back what that took before it settles down to serve.

use crate::engine::Engine;
use std::ffi::OsStr;

const TUNABLES_VAR: &str = "GLIBC_TUNABLES";
/// No per-thread cache of freed chunks: malloc_trim cannot hand back what the main thread's
/// cache holds (up to 7 chunks of each size to 1 KiB: the start's mountinfo, spec and netlink
/// buffers), about 170 KiB that stayed dirty in every idle monitor. Read by glibc before
/// `main`, so set in the monitor's environment by its starter. Nor a cache of the stacks of
/// joined threads: the start's threads left a 2 MiB stack mapped, with its touched pages and
/// page tables.
const TUNABLES: &str = "glibc.malloc.tcache_count=0:glibc.pthread.stack_cache_size=0";

/// The `GLIBC_TUNABLES=...` entry to add to the environment a monitor is started with.
pub(crate) fn start_tunables() -> Option<String> {
    tunables_entry(std::env::var_os(TUNABLES_VAR).as_deref())
}

/// That entry given the starter's own value (none when the user set tunables of their own:
/// theirs are passed on untouched).
fn tunables_entry(current: Option<&OsStr>) -> Option<String> {
    current
        .is_none()
        .then(|| format!("{TUNABLES_VAR}={TUNABLES}"))
}

/// Called first in the monitor: the tunables its starter added are not passed on to the
/// processes it starts (external runtimes, hooks, helpers).
pub(super) fn forget_tunables() {
    if std::env::var_os(TUNABLES_VAR).as_deref() == Some(OsStr::new(TUNABLES)) {
        std::env::remove_var(TUNABLES_VAR);
    }
}

/// One malloc arena for the whole process: the short-lived threads of a start (netlink, netns
/// work) would each leave an arena of their own behind, a few dozen KiB that stay dirty.
/// Called first thing, before any thread exists.
pub(super) fn one_arena() {
    // SAFETY: mallopt only sets an allocator parameter.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// Hand back to the kernel what starting the container needed: the network manager, the
/// store's connection (reopened when the container stops), the heap's free pages and the
/// stack below the current frame.
pub(super) fn release_idle(engine: &Engine) {
    engine.close_networks();
    engine.store.close();
    release_unused_stack();
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Drops the main stack's pages below this frame (the start went deep, serving stays shallow;
/// a page used again comes back zeroed). Nothing lives below the current frame: the monitor's
/// only other threads were a start's, joined, and every signal is blocked, so no handler runs
/// on this stack.
#[inline(never)]
fn release_unused_stack() {
    let Some((low, high)) = stack_bounds() else {
        return;
    };
    let here = 0u8;
    let sp = std::hint::black_box(&here) as *const u8 as usize;
    // SAFETY: sysconf has no preconditions.
    let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    // two pages of margin for the calls made from here on
    let end = (sp & !(page - 1)).saturating_sub(2 * page);
    if !(low..high).contains(&sp) || end <= low {
        return;
    }
    // SAFETY: [low, end) lies in this thread's stack mapping, below every live frame.
    unsafe {
        libc::madvise(low as *mut libc::c_void, end - low, libc::MADV_DONTNEED);
    }
}

/// The main thread's stack mapping, from /proc/self/maps.
fn stack_bounds() -> Option<(usize, usize)> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    let line = maps.lines().find(|l| l.ends_with("[stack]"))?;
    let (low, high) = line.split_whitespace().next()?.split_once('-')?;
    Some((
        usize::from_str_radix(low, 16).ok()?,
        usize::from_str_radix(high, 16).ok()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitors_get_no_thread_cache_unless_the_user_set_tunables() {
        assert_eq!(
            tunables_entry(None).as_deref(),
            Some("GLIBC_TUNABLES=glibc.malloc.tcache_count=0:glibc.pthread.stack_cache_size=0")
        );
        assert_eq!(
            tunables_entry(Some(OsStr::new("glibc.malloc.check=3"))),
            None
        );
    }

    #[test]
    fn the_stack_is_found_and_survives_its_trim() {
        let (low, high) = stack_bounds().expect("a [stack] mapping");
        assert!(low < high);
        // (a test runs on a thread of its own: the main stack is not ours to trim, and the
        // trim of a frame outside [stack] is a no-op)
        release_unused_stack();
        let deep = [7u8; 64 * 1024];
        assert_eq!(
            std::hint::black_box(&deep)
                .iter()
                .map(|b| *b as u64)
                .sum::<u64>(),
            7 * 64 * 1024
        );
    }
}
