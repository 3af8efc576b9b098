//! What a process of the mesh uses, from `/proc` (Linux): CPU seconds and
//! resident memory, as `compare --cost` and the sidecar bench read them.

/// User plus system CPU seconds of `pid` so far (`/proc/PID/stat`).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // pid (comm) state ...: comm may hold spaces, so count after ')'.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some((utime + stime) / if ticks > 0 { ticks as f64 } else { 100.0 })
}

/// The resident set of `pid` now, in MiB (`VmRSS`).
pub fn rss_mib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmRSS:").map(|k| k / 1024.0)
}

/// The peak resident set of `pid`, in MiB (`VmHWM`).
pub fn peak_rss_mib(pid: u32) -> Option<f64> {
    status_kib(pid, "VmHWM:").map(|k| k / 1024.0)
}

fn status_kib(pid: u32, field: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_process_has_cpu_and_memory() {
        let me = std::process::id();
        // Work until the kernel has counted a tick of it (10 ms of CPU, however
        // long a busy machine takes to give them); bounded.
        let before = super::cpu_seconds(me).unwrap();
        let end = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let mut x = 0u64;
        while super::cpu_seconds(me).unwrap() <= before && std::time::Instant::now() < end {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        }
        assert!(super::cpu_seconds(me).unwrap() > before, "no CPU counted");
        // VmHWM is updated lazily: it may lag VmRSS, so each on its own.
        assert!(super::peak_rss_mib(me).unwrap() > 1.0);
        assert!(super::rss_mib(me).unwrap() > 1.0);
        assert!(super::cpu_seconds(u32::MAX).is_none());
    }
}
