//! `GroupChild` and the `with-emulators` binary: nothing outlives them.

use std::process::Command;
use std::time::Duration;

use devkit::GroupChild;

use crate::helpers::{process_gone, running_in_group, wait_gone};

#[tokio::test]
async fn stop_ends_the_whole_group_and_keeps_the_log() {
    let dir = std::env::temp_dir().join(devkit::unique_name("devkit-group"));
    let log = dir.join("sleeper.log");
    let mut cmd = Command::new("sh");
    // A child that ignores TERM and has a grandchild in its group.
    cmd.arg("-c").arg("trap '' TERM; sleep 300 & echo started; wait");
    let mut p = GroupChild::spawn("sleeper", cmd, &log).unwrap();
    let pgid = p.pid();
    for _ in 0..100 {
        if p.log_tail(1) == "started" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(p.log_tail(1), "started");
    assert!(p.try_exited().is_none());
    let graceful = p.stop(libc::SIGTERM, Duration::from_millis(200)).await;
    assert!(!graceful, "TERM was ignored, so the group had to be killed");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let left = running_in_group(pgid);
    assert!(left.is_empty(), "{left:?}");
    drop(p);
    assert!(log.is_file(), "the log is kept");
    std::fs::remove_dir_all(&dir).ok();
}

/// The binary `make test` runs the tests under: the endpoints reach the
/// command, the command's code comes back, and the servers go with it.
#[test]
fn with_emulators_exports_endpoints_and_exits_with_the_command_code() {
    let out = Command::new(env!("CARGO_BIN_EXE_with-emulators"))
        .args(["sh", "-c"])
        .arg(
            "echo \"$PSC_TEST_DYNAMODB_ENDPOINT $PSC_TEST_S3_ENDPOINT $PSC_ROOT ${CARGO_PKG_NAME:-none}\"; \
             exit 7",
        )
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let fields: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(fields.len(), 4, "{stdout}");
    assert!(fields[0].starts_with("http://127.0.0.1:") && fields[1].starts_with("http://127.0.0.1:"), "{stdout}");
    assert_ne!(fields[0], fields[1]);
    assert_eq!(fields[2], devkit::repo_root().unwrap().to_str().unwrap());
    assert_eq!(fields[3], "none", "cargo run's CARGO_PKG_* must not reach the command");
    // Both servers were stopped before it exited: nothing answers any more.
    for endpoint in &fields[..2] {
        let port: u16 = endpoint.rsplit(':').next().unwrap().parse().unwrap();
        assert!(devkit::port_is_free(port), "{endpoint} still bound");
    }
}

/// SIGTERM sent to the binary reaches the command; the exit code says so.
#[tokio::test]
async fn with_emulators_forwards_sigterm_and_leaves_no_server() {
    signal_with_emulators(libc::SIGTERM, Some(128 + libc::SIGTERM)).await;
}

/// SIGKILL, which it cannot forward: the servers and the command die with it.
#[tokio::test]
async fn a_killed_with_emulators_leaves_neither_server_nor_command() {
    signal_with_emulators(libc::SIGKILL, None).await;
}

/// Runs a command under with-emulators, sends it `signal`, checks its exit
/// code (`None`: killed by the signal) and that none of its children is left.
async fn signal_with_emulators(signal: libc::c_int, code: Option<i32>) {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_with-emulators"))
        .args(["sh", "-c", "echo \"$PPID\"; exec sleep 120"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    use tokio::io::AsyncBufReadExt as _;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(120), lines.next_line()).await.unwrap().unwrap();
    assert_eq!(first.as_deref(), Some(pid.to_string().as_str()), "the command runs under with-emulators");
    // Its children, whichever of its threads forked them.
    let children: Vec<u32> = std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("children")).ok())
        .flat_map(|c| c.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<u32>>())
        .collect();
    assert_eq!(children.len(), 3, "DynamoDB Local, moto and the command: {children:?}");
    // SAFETY: plain syscall to our own child.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), code, "{status:?}");
    if code.is_none() {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(status.signal(), Some(signal), "{status:?}");
    }
    for p in children {
        assert!(wait_gone(p, Duration::from_secs(5)).await || process_gone(p), "process {p} outlived with-emulators");
    }
}
