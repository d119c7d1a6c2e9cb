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
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

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

/// A child process leading its own process group; the group is killed on drop.
#[derive(Debug)]
pub(crate) struct GroupChild {
    child: Child,
    pub(crate) log: PathBuf,
}

impl GroupChild {
    /// Spawns `cmd` (stdout and stderr to `log`) in a new process group,
    /// with the parent-death signal set.
    pub(crate) fn spawn(mut cmd: Command, log: PathBuf) -> Result<Self> {
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        cmd.process_group(0);
        die_with_parent(&mut cmd);
        let program = format!("{:?}", cmd.get_program());
        let child =
            spawn_on_spawner_thread(cmd).with_context(|| format!("starting {program} (log: {})", log.display()))?;
        register(child.id() as i32);
        Ok(Self { child, log })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(status)` once the child has exited.
    pub(crate) fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// The last lines of the child's log, for error messages.
    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    fn kill(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: plain syscall; pgid is the group this child leads.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        unregister(pgid);
    }
}

impl Drop for GroupChild {
    fn drop(&mut self) {
        self.kill();
        // Its log only matters while it runs (start errors quote it).
        let _ = std::fs::remove_file(&self.log);
    }
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

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub(crate) fn free_port() -> Result<u16> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// A fresh log file path under `$TMPDIR/psc-devkit/`.
pub(crate) fn log_path(name: &str, port: u16) -> Result<PathBuf> {
    let dir = std::env::temp_dir().join("psc-devkit");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir.join(format!("{name}-{}-{port}.log", std::process::id())))
}
