//! `with-emulators CMD [ARGS...]`: runs CMD with DynamoDB Local and moto (the
//! S3-compatible server) started once for the whole command, each on a free
//! port of 127.0.0.1 (devkit's [`DynamoDbLocal`] and [`MotoServer`]):
//!
//! ```text
//! cargo run -q --bin with-emulators -- cargo nextest run --workspace
//! ```
//!
//! CMD sees `PSC_TEST_DYNAMODB_ENDPOINT`, `PSC_TEST_S3_ENDPOINT` and
//! `PSC_ROOT` (devkit's `Emulators::get()` then uses these servers instead of
//! starting its own), and none of the `CARGO_PKG_*`-style variables `cargo run`
//! set for this program (a nested cargo would rebuild on them).
//!
//! A Ctrl-C in the terminal reaches CMD directly (it stays in the terminal's
//! process group); SIGINT, SIGTERM or SIGHUP sent to this process alone are
//! forwarded to CMD. Both servers are killed when CMD ends, and, through the
//! parent-death signal, even if this process is killed with SIGKILL. Exits
//! with CMD's code (128 + the signal when a signal ended it).
//!
//! Needs `scripts/bootstrap.sh local` (or all of it) to have run. Server
//! logs: `<target>/emulators/`. Env: `PSC_EMULATOR_START_TIMEOUT_SECS`
//! (default 90), `JAVA` (default `java`).

use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt as _;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use clap::Parser;
use devkit::{DYNAMODB_ENDPOINT_ENV, DynamoDbLocal, MotoServer, PSC_ROOT_ENV, S3_ENDPOINT_ENV, ServerOptions};

/// Runs CMD with DynamoDB Local and moto started, their endpoints in
/// PSC_TEST_DYNAMODB_ENDPOINT and PSC_TEST_S3_ENDPOINT, and exits with CMD's code.
#[derive(Parser)]
#[command(name = "with-emulators")]
struct Cli {
    /// The command and its arguments (its flags are its own).
    #[arg(value_name = "CMD", required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    cmd: Vec<OsString>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("with-emulators: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[OsString]) -> Result<ExitCode> {
    let root = devkit::repo_root()?;
    let logs = devkit::target_dir()?.join("emulators");
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (ddb, moto) = runtime.block_on(async {
        tokio::join!(
            DynamoDbLocal::start_with(ServerOptions::default().log(logs.join("dynamodb-local.log"))),
            MotoServer::start_with(ServerOptions::default().log(logs.join("moto.log"))),
        )
    });
    let ddb = ddb.context("starting DynamoDB Local")?;
    let moto = moto.context("starting moto server")?;
    eprintln!(
        "with-emulators: DynamoDB Local {}, moto (S3) {}, ready in {:.1}s (logs: {})",
        ddb.endpoint(),
        moto.endpoint(),
        started.elapsed().as_secs_f64(),
        logs.display()
    );

    let mut cmd = Command::new(&args[0]);
    cmd.args(&args[1..]);
    devkit::remove_cargo_run_env(&mut cmd);
    cmd.env(PSC_ROOT_ENV, &root).env(DYNAMODB_ENDPOINT_ENV, ddb.endpoint()).env(S3_ENDPOINT_ENV, moto.endpoint());
    // Killed with SIGKILL, this process can forward nothing: the command
    // dies with it, as the servers do (forked by this, the main, thread).
    devkit::die_with_parent(&mut cmd);
    let forwarder = forward::install()?;
    let mut child = cmd.spawn().with_context(|| format!("running {:?}", args[0]))?;
    forwarder.to(child.id());
    let status = child.wait().context("waiting for the command")?;
    ddb.stop();
    moto.stop();
    Ok(exit_code(status))
}

/// The command's exit code, or 128 + the signal that ended it (as a shell says).
fn exit_code(status: ExitStatus) -> ExitCode {
    match (status.code(), status.signal()) {
        (Some(code), _) => ExitCode::from(code.clamp(0, 255) as u8),
        (None, Some(sig)) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        (None, None) => ExitCode::FAILURE,
    }
}

/// Forwarding of SIGINT, SIGTERM and SIGHUP to the command.
mod forward {
    use std::sync::atomic::{AtomicI32, Ordering};

    use super::{Result, bail};

    const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

    /// Write end of the pipe the handler reports signals on.
    static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);

    pub struct Forwarder {
        read: libc::c_int,
    }

    /// Installs the handlers: from now on, those signals no longer end this
    /// process; they are queued for [`Forwarder::to`].
    pub fn install() -> Result<Forwarder> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: plain syscall into a local array; O_CLOEXEC keeps the pipe
        // out of the command.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            bail!("pipe2: {}", std::io::Error::last_os_error());
        }
        PIPE_WRITE.store(fds[1], Ordering::SeqCst);
        for sig in SIGNALS {
            // SAFETY: a zeroed sigaction is valid; the handler only makes
            // async-signal-safe calls (write).
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = on_signal as *const () as libc::sighandler_t;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                libc::sigemptyset(&mut action.sa_mask);
                if libc::sigaction(sig, &action, std::ptr::null_mut()) != 0 {
                    bail!("sigaction({sig}): {}", std::io::Error::last_os_error());
                }
            }
        }
        Ok(Forwarder { read: fds[0] })
    }

    impl Forwarder {
        /// Forwards every signal received, from now on and since
        /// [`install`], to `pid`.
        pub fn to(self, pid: u32) {
            let read = self.read;
            std::thread::spawn(move || {
                let mut sig = 0u8;
                // SAFETY: reads one byte into a local.
                while unsafe { libc::read(read, (&raw mut sig).cast(), 1) } == 1 {
                    // SAFETY: plain syscall to our own child.
                    unsafe {
                        libc::kill(pid as libc::pid_t, libc::c_int::from(sig));
                    }
                }
            });
        }
    }

    extern "C" fn on_signal(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // A terminal's Ctrl-C (si_code SI_KERNEL, > 0) goes to its whole
        // foreground process group, the command included: forwarding it
        // would deliver it twice (a second Ctrl-C makes nextest kill its
        // tests at once). Only what was sent to this process (kill(2),
        // si_code <= 0) is forwarded.
        // SAFETY: the kernel passes a valid siginfo with SA_SIGINFO.
        if info.is_null() || unsafe { (*info).si_code } > 0 {
            return;
        }
        let fd = PIPE_WRITE.load(Ordering::SeqCst);
        if fd >= 0 {
            let byte = sig as u8;
            // SAFETY: write(2) is async-signal-safe.
            unsafe {
                libc::write(fd, (&raw const byte).cast(), 1);
            }
        }
    }
}
