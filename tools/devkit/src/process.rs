//! Child processes that never outlive the process that started them.
//!
//! * Each child leads its own process group, and is stopped by killing the
//!   whole group (a JVM or a Python server may start helpers of its own).
//! * Each child has `PR_SET_PDEATHSIG = SIGKILL`, so it dies with us even
//!   when we are killed with SIGKILL. Linux ties that signal to the *thread*
//!   that forked the child, so every child is forked by one spawner thread
//!   that lives as long as the process (test threads and tokio runtimes come
//!   and go; a child forked on one of them would die with it).
//! * Groups still alive at a normal `exit` are killed by an `atexit` hook
//!   (statics are never dropped).

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

type SpawnRequest = (Command, Sender<io::Result<Child>>);

static SPAWNER: OnceLock<Mutex<Sender<SpawnRequest>>> = OnceLock::new();
static LIVE_GROUPS: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

/// Makes the child `cmd` will spawn die with this process: sets
/// `PR_SET_PDEATHSIG = SIGKILL` between fork and exec, and fails the spawn if
/// this process already died in between. Linux ties the signal to the
/// *thread* that forks, so spawn from a thread that lives as long as the
/// child should (the main thread, or a current-thread runtime's).
pub fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: only async-signal-safe calls (prctl, getppid) and an error
    // return between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() != parent {
                return Err(io::Error::other("parent exited during spawn"));
            }
            Ok(())
        });
    }
}

/// A child process leading its own process group, its output in a log file,
/// with the parent-death signal set. Dropping it kills the whole group.
///
/// devkit's emulators run as one; so do the processes `psc-local` starts
/// (the AWS stand-in, `cargo lambda watch`).
#[derive(Debug)]
pub struct GroupChild {
    name: String,
    child: Child,
    log: PathBuf,
    keep_log: bool,
    done: bool,
}

impl GroupChild {
    /// Spawns `cmd` named `name` (for messages) with stdin from /dev/null and
    /// stdout and stderr to `log` (created or truncated, kept after the child
    /// ends), in a new process group, with the parent-death signal set.
    pub fn spawn(name: &str, cmd: Command, log: &Path) -> Result<Self> {
        Self::spawn_inner(name, cmd, log.to_owned(), true)
    }

    /// Like [`GroupChild::spawn`], with a log that is removed when the child
    /// is dropped (it only matters while the child runs: start errors quote it).
    pub(crate) fn spawn_with_temp_log(name: &str, cmd: Command, log: PathBuf) -> Result<Self> {
        Self::spawn_inner(name, cmd, log, false)
    }

    fn spawn_inner(name: &str, mut cmd: Command, log: PathBuf, keep_log: bool) -> Result<Self> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.process_group(0);
        die_with_parent(&mut cmd);
        let program = cmd.get_program().to_string_lossy().into_owned();
        let child = spawn_on_spawner_thread(cmd)
            .with_context(|| format!("starting {name} ({program}; log {})", log.display()))?;
        register(child.id() as i32);
        Ok(Self { name: name.to_owned(), child, log, keep_log, done: false })
    }

    /// The name given to [`GroupChild::spawn`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process id (also the process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// `Some(status)` once the child has exited.
    pub fn try_exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last `lines` lines of the log (empty when unreadable).
    pub fn log_tail(&self, lines: usize) -> String {
        log_tail(&self.log, lines)
    }

    /// Sends `signal` to the group, waits up to `grace` for the child to end,
    /// then kills whatever is left of the group. Returns true when the child
    /// ended within the grace.
    pub async fn stop(&mut self, signal: libc::c_int, grace: Duration) -> bool {
        if self.done {
            return true;
        }
        let mut graceful = self.try_exited().is_some();
        if !graceful {
            killpg(self.pid(), signal);
            let deadline = Instant::now() + grace;
            while !graceful && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
                graceful = self.try_exited().is_some();
            }
        }
        self.kill();
        graceful
    }

    /// Kills the group and reaps the child.
    fn kill(&mut self) {
        if self.done {
            return;
        }
        // The child may have started helpers of its own: the whole group.
        killpg(self.pid(), libc::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
        unregister(self.pid() as i32);
        self.done = true;
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.kill();
        if !self.keep_log {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

fn killpg(pgid: u32, signal: libc::c_int) {
    if pgid > 1 {
        // SAFETY: plain syscall on a group this process created.
        unsafe {
            libc::killpg(pgid as libc::pid_t, signal);
        }
    }
}

/// The last `lines` lines of a log file (empty when unreadable).
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read(path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

fn spawn_on_spawner_thread(cmd: Command) -> io::Result<Child> {
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("devkit-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop ends only with
                // the process.
                while let Ok((mut cmd, reply)) = rx.recv() {
                    let _ = reply.send(cmd.spawn());
                }
                loop {
                    std::thread::park();
                }
            })
            .expect("cannot start the devkit spawner thread");
        // SAFETY: registers a plain extern "C" fn.
        unsafe {
            libc::atexit(kill_live_groups_at_exit);
        }
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = channel();
    spawner
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("devkit spawner thread is gone"))?;
    reply_rx.recv().map_err(|_| io::Error::other("devkit spawner thread is gone"))?
}

fn register(pgid: i32) {
    LIVE_GROUPS.lock().unwrap_or_else(|p| p.into_inner()).insert(pgid);
}

fn unregister(pgid: i32) {
    LIVE_GROUPS.lock().unwrap_or_else(|p| p.into_inner()).remove(&pgid);
}

extern "C" fn kill_live_groups_at_exit() {
    // try_lock: never block inside exit.
    if let Ok(groups) = LIVE_GROUPS.try_lock() {
        for &pgid in groups.iter() {
            // SAFETY: plain syscall.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
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

/// Removes from `cmd` the variables `cargo run` sets for the program it runs
/// (`CARGO_PKG_*`, `CARGO_MANIFEST_DIR`, ...). They must not reach a nested
/// cargo: build scripts such as ring's declare `rerun-if-env-changed` on
/// them, so a build with them set and one without (the shell's) would keep
/// rebuilding ring and everything above it.
pub fn remove_cargo_run_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if k.starts_with("CARGO_PKG_")
            || k.starts_with("CARGO_BIN_")
            || k.starts_with("CARGO_MANIFEST_")
            || matches!(k, "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "CARGO_RUSTC_CURRENT_DIR" | "OUT_DIR")
        {
            cmd.env_remove(k);
        }
    }
}

/// Removes from `cmd` every AWS setting of the caller's environment
/// (profiles, credentials, endpoints, regions), so that it never reaches AWS.
/// `AWS_LC_*`, build settings of aws-lc-sys, are kept.
pub fn remove_aws_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let Some(k) = k.to_str() else { continue };
        if k.starts_with("AWS_") && !k.starts_with("AWS_LC_") {
            cmd.env_remove(k);
        }
    }
}

/// A fresh log file path under `$TMPDIR/psc-devkit/`.
pub(crate) fn temp_log_path(name: &str, port: u16) -> PathBuf {
    std::env::temp_dir().join("psc-devkit").join(format!("{name}-{}-{port}.log", std::process::id()))
}
