//! Child processes that never outlive the local run.
//!
//! Every child psc-local starts (DynamoDB Local, moto, the AWS stand-in,
//! `cargo lambda watch`) is a [`devkit::GroupChild`], devkit's one
//! implementation:
//!
//! * each child leads its own process group (so a Ctrl-C in the terminal
//!   reaches psc-local only, which then stops everything in order), and is
//!   stopped by signalling the whole group;
//! * each child has `PR_SET_PDEATHSIG = SIGKILL`, so it dies with psc-local
//!   even when psc-local is killed with SIGKILL (devkit forks every child
//!   from one thread that lives as long as the process);
//!
//! and, what only the local run needs:
//!
//! * psc-local is a child subreaper ([`become_subreaper`]): a grandchild
//!   orphaned on the way (a function `cargo lambda watch` started, a rustc of
//!   an interrupted build) is re-parented to psc-local, and
//!   [`sweep_descendants`] ends whatever is left at shutdown.

use std::time::Duration;

use anyhow::Result;
use devkit::GroupChild;

/// Makes this process the reaper of its orphaned descendants.
pub fn become_subreaper() {
    // SAFETY: plain prctl; failure only loses the sweep of orphans.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// A process of this machine, from `/proc/<pid>/stat`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcStat {
    pub pid: i32,
    pub comm: String,
    pub state: char,
    pub ppid: i32,
    pub pgrp: i32,
}

/// Parses the text of `/proc/<pid>/stat`.
pub fn parse_stat(text: &str) -> Option<ProcStat> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = text[open + 1..close].to_owned();
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    let pgrp = rest.next()?.parse().ok()?;
    Some(ProcStat { pid, comm, state, ppid, pgrp })
}

fn stat_of(pid: i32) -> Option<ProcStat> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Every process of this machine.
fn all_processes() -> Vec<ProcStat> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok()).filter_map(stat_of).collect()
}

/// The direct children of this process.
pub fn children() -> Vec<ProcStat> {
    let me = std::process::id() as i32;
    all_processes().into_iter().filter(|s| s.ppid == me).collect()
}

/// Every live (not zombie) descendant of `pid`: its children, theirs, and so on.
pub fn descendants(pid: i32) -> Vec<ProcStat> {
    let all = all_processes();
    let mut out: Vec<ProcStat> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for p in all.iter().filter(|p| p.ppid == parent && p.state != 'Z') {
            parents.push(p.pid);
            out.push(p.clone());
        }
    }
    out
}

/// True once `pid` is gone; a zombie nobody has reaped yet counts as gone.
pub fn is_gone(pid: i32) -> bool {
    stat_of(pid).is_none_or(|s| s.state == 'Z')
}

/// Kills and reaps every remaining child of this process (with this process
/// a subreaper, that includes orphaned grandchildren). Returns the ones that
/// were still running (not just unreaped), as `name (pid)`.
pub fn sweep_descendants() -> Vec<String> {
    let mut killed = Vec::new();
    for _ in 0..50 {
        let kids = children();
        if kids.is_empty() {
            break;
        }
        for k in kids {
            if k.state != 'Z' {
                killed.push(format!("{} ({})", k.comm, k.pid));
                // SAFETY: plain syscalls on our own children.
                unsafe {
                    if k.pgrp == k.pid {
                        libc::killpg(k.pid, libc::SIGKILL);
                    }
                    libc::kill(k.pid, libc::SIGKILL);
                }
            }
            // SAFETY: reaps our own child; blocks only until it is gone.
            unsafe {
                let mut status = 0;
                libc::waitpid(k.pid, &mut status, 0);
            }
        }
    }
    killed
}

/// Waits until something accepts TCP connections on `port`, `child` exits,
/// or `timeout` passes.
pub async fn wait_for_port(child: &mut GroupChild, port: u16, timeout: Duration) -> Result<()> {
    let started = std::time::Instant::now();
    loop {
        if let Some(status) = child.try_exited() {
            anyhow::bail!(
                "{} exited with {status} before listening on port {port}; log {}:\n{}",
                child.name(),
                child.log().display(),
                child.log_tail(30)
            );
        }
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        if started.elapsed() > timeout {
            anyhow::bail!(
                "{} did not listen on port {port} within {}s; log {}:\n{}",
                child.name(),
                timeout.as_secs(),
                child.log().display(),
                child.log_tail(30)
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_lines_with_odd_names() {
        let s = parse_stat("4242 (cargo lambda (x)) S 17 4242 17 0 -1 4194560 ...").unwrap();
        assert_eq!(s, ProcStat { pid: 4242, comm: "cargo lambda (x)".into(), state: 'S', ppid: 17, pgrp: 4242 });
        assert_eq!(parse_stat("garbage"), None);
    }
}
