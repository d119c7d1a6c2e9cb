//! Child processes that never outlive the local run.
//!
//! The same approach as devkit's emulators, for the processes psc-local
//! starts itself (the CAS stand-in, `cargo lambda watch`, and emulators on a
//! configured port):
//!
//! * each child leads its own process group (so a Ctrl-C in the terminal
//!   reaches psc-local only, which then stops everything in order), and is
//!   stopped by signalling the whole group;
//! * each child has `PR_SET_PDEATHSIG = SIGKILL`, so it dies with psc-local
//!   even when psc-local is killed with SIGKILL. Linux ties that signal to
//!   the thread that forked the child: psc-local runs a current-thread tokio
//!   runtime, so every child is forked by the main thread;
//! * psc-local is a child subreaper ([`become_subreaper`]): a grandchild
//!   orphaned on the way (a function `cargo lambda watch` started, a rustc of
//!   an interrupted build) is re-parented to psc-local, and
//!   [`sweep_descendants`] ends whatever is left at shutdown.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};

/// A child process leading its own process group, its output in a log file.
/// Dropping it kills the group.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: tokio::process::Child,
    pid: i32,
    log: PathBuf,
    done: bool,
}

impl Proc {
    /// Spawns `cmd` with stdout and stderr appended to `log`, stdin from
    /// /dev/null, in a new process group, with the parent-death signal.
    pub fn spawn(name: &str, mut cmd: tokio::process::Command, log: &Path) -> Result<Self> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("opening {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.process_group(0);
        cmd.kill_on_drop(false);
        devkit::die_with_parent(cmd.as_std_mut());
        let program = cmd.as_std().get_program().to_string_lossy().into_owned();
        let child = cmd.spawn().with_context(|| format!("starting {name} ({program}; log {})", log.display()))?;
        let pid = child.id().context("child has no pid")? as i32;
        Ok(Self { name: name.to_owned(), child, pid, log: log.to_owned(), done: false })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process id (also the process group id).
    pub fn pid(&self) -> i32 {
        self.pid
    }

    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `Some(status)` once the child has exited.
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the log.
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// Sends `signal` to the group, waits up to `grace` for the child to end,
    /// then kills the group. Returns true when it ended within the grace.
    pub async fn stop(&mut self, signal: libc::c_int, grace: Duration) -> bool {
        if self.done {
            return true;
        }
        let graceful = if self.try_exited().is_some() {
            true
        } else {
            killpg(self.pid, signal);
            tokio::time::timeout(grace, self.child.wait()).await.is_ok()
        };
        // Whatever else is left in the group (the child may have started
        // helpers of its own).
        killpg(self.pid, libc::SIGKILL);
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        self.done = true;
        graceful
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.done {
            killpg(self.pid, libc::SIGKILL);
            let _ = self.child.start_kill();
            let _ = self.child.try_wait();
        }
    }
}

fn killpg(pgid: i32, signal: libc::c_int) {
    if pgid > 1 {
        // SAFETY: plain syscall on a group this process created.
        unsafe {
            libc::killpg(pgid, signal);
        }
    }
}

/// The last `lines` lines of a log file (empty when unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

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

/// The direct children of this process.
pub fn children() -> Vec<ProcStat> {
    let me = std::process::id() as i32;
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(stat_of)
        .filter(|s| s.ppid == me)
        .collect()
}

/// True while `pid` exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    stat_of(pid).is_some_and(|s| s.state != 'Z')
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

/// A TCP port of 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// True when `port` of 127.0.0.1 can be bound now.
pub fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Waits until something accepts TCP connections on `port`, `child` exits,
/// or `timeout` passes.
pub async fn wait_for_port(child: &mut Proc, port: u16, timeout: Duration) -> Result<()> {
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

    #[test]
    fn own_process_is_alive_and_listed_under_its_parent() {
        let me = std::process::id() as i32;
        assert!(alive(me));
        assert!(!alive(i32::MAX));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn stop_ends_the_whole_group_and_leaves_nothing() {
        let dir = std::env::temp_dir().join(format!("psc-local-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("sleep.log");
        let mut cmd = tokio::process::Command::new("sh");
        // A child that ignores TERM and has a grandchild in its group.
        cmd.arg("-c").arg("trap '' TERM; sleep 300 & echo started; wait");
        let mut p = Proc::spawn("sleeper", cmd, &log).unwrap();
        let pgid = p.pid();
        for _ in 0..100 {
            if std::fs::read_to_string(&log).unwrap_or_default().contains("started") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let graceful = p.stop(libc::SIGTERM, Duration::from_millis(200)).await;
        assert!(!graceful, "TERM was ignored, so the group had to be killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
        // No member of the group is left running.
        let left: Vec<ProcStat> = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter_map(stat_of)
            .filter(|s| s.pgrp == pgid && s.state != 'Z')
            .collect();
        assert!(left.is_empty(), "{left:?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
