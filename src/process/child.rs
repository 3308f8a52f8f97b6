//! One agent process: spawn it, read its pipes, learn its exit.
//!
//! Reaping is driven by SIGCHLD: the daemon loop calls [`Reaper::reap`], which polls each
//! child we started with a non-blocking `waitpid` and hands the status to that child's task.
//! After the exit we take whatever is already in the pipes and stop: an agent that started a
//! daemon leaves that daemon holding the pipes open, and we must not wait for it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Read};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::rc::Rc;

use async_io::Async;
use futures_lite::{future, AsyncReadExt};

use super::invocation::Invocation;
use super::output::Captured;
use crate::mailbox::Mailbox;

/// How a child ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChildExit {
    /// It exited with this status.
    Code(i32),
    /// A signal ended it.
    Signal(i32),
}

/// A finished child: how it ended and what it wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// Its exit.
    pub exit: ChildExit,
    /// stdout.
    pub stdout: Captured,
    /// stderr.
    pub stderr: Captured,
}

/// The children we started and not yet reaped.
#[derive(Default)]
pub struct Reaper {
    children: RefCell<HashMap<u32, (Child, Mailbox<ChildExit>)>>,
}

impl Reaper {
    /// An empty reaper, shared by the daemon loop and the child tasks.
    pub fn new() -> Rc<Reaper> {
        Rc::new(Reaper::default())
    }

    /// Whether `pid` is a child of ours not yet reaped: only then may it be signalled, since
    /// a reaped pid can already belong to another process.
    pub fn holds(&self, pid: u32) -> bool {
        self.children.borrow().contains_key(&pid)
    }

    /// Children not yet reaped.
    pub fn len(&self) -> usize {
        self.children.borrow().len()
    }

    /// No child is running.
    pub fn is_empty(&self) -> bool {
        self.children.borrow().is_empty()
    }

    /// Polls every child once (on SIGCHLD); each one that exited is handed to its task.
    pub fn reap(&self) {
        let mut children = self.children.borrow_mut();
        let mut done = Vec::new();
        for (pid, (child, _)) in children.iter_mut() {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let exit = match (status.code(), status.signal()) {
                        (Some(c), _) => ChildExit::Code(c),
                        (None, Some(s)) => ChildExit::Signal(s),
                        (None, None) => ChildExit::Code(-1),
                    };
                    done.push((*pid, exit));
                }
                Ok(None) => {}
                // ECHILD: someone else reaped it; report it as vanished rather than hang.
                Err(_) => done.push((*pid, ChildExit::Code(-1))),
            }
        }
        for (pid, exit) in done {
            if let Some((_, mailbox)) = children.remove(&pid) {
                let _ = mailbox.push(exit, 1);
            }
        }
    }
}

/// Starts `invocation` in a process group of its own, stdin from /dev/null, stdout and stderr
/// piped. Returns the pid and a future that resolves when the child has exited and its pipes
/// have been read (up to `cap` bytes each).
pub fn spawn(
    reaper: &Rc<Reaper>,
    invocation: &Invocation,
    cap: usize,
) -> io::Result<(u32, impl std::future::Future<Output = Finished>)> {
    let mut cmd = Command::new(&invocation.program);
    cmd.args(&invocation.args)
        .envs(invocation.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some((uid, gid)) = invocation.user {
        // std clears supplementary groups when root changes the uid (as the original does).
        cmd.uid(uid).gid(gid);
    }
    let mut child = cmd.spawn()?;
    let pid = child.id();
    let stdout = child.stdout.take().map(Async::new).transpose()?;
    let stderr = child.stderr.take().map(Async::new).transpose()?;
    let exited = Mailbox::new(1);
    reaper
        .children
        .borrow_mut()
        .insert(pid, (child, exited.clone()));
    // A child that exited before we registered it has raised SIGCHLD already; poll once.
    reaper.reap();
    Ok((pid, collect(stdout, stderr, exited, cap)))
}

/// Bytes read from an agent's pipe at a time.
const READ_CHUNK: usize = 4096;

async fn collect(
    mut stdout: Option<Async<ChildStdout>>,
    mut stderr: Option<Async<ChildStderr>>,
    exited: Mailbox<ChildExit>,
    cap: usize,
) -> Finished {
    let mut out = Captured::default();
    let mut err = Captured::default();
    // One pipe's worth at a time is plenty: agents mostly say a line or nothing, and a
    // chatty one only costs more reads. Small buffers keep a no-op operation cheap, and on
    // the heap they are not copied each time this future moves.
    let mut bufs = vec![0u8; 2 * READ_CHUNK];
    let (buf, buf2) = bufs.split_at_mut(READ_CHUNK);
    let exit = loop {
        enum Event {
            Out(io::Result<usize>),
            Err(io::Result<usize>),
            Exit(Option<ChildExit>),
        }
        let read_out = async {
            match stdout.as_mut() {
                Some(s) => Event::Out(s.read(buf).await),
                None => future::pending().await,
            }
        };
        let read_err = async {
            match stderr.as_mut() {
                Some(s) => Event::Err(s.read(buf2).await),
                None => future::pending().await,
            }
        };
        let exit = async { Event::Exit(exited.recv().await) };
        match future::or(exit, future::or(read_out, read_err)).await {
            Event::Exit(e) => break e.unwrap_or(ChildExit::Code(-1)),
            Event::Out(Ok(0)) | Event::Out(Err(_)) => stdout = None,
            Event::Out(Ok(n)) => out.push(&buf[..n], cap),
            Event::Err(Ok(0)) | Event::Err(Err(_)) => stderr = None,
            Event::Err(Ok(n)) => err.push(&buf2[..n], cap),
        }
    };
    // Take what is already in the pipes, without waiting for writers that outlive the agent.
    if let Some(s) = stdout {
        drain_now(s, &mut out, cap, buf);
    }
    if let Some(s) = stderr {
        drain_now(s, &mut err, cap, buf);
    }
    Finished {
        exit,
        stdout: out,
        stderr: err,
    }
}

/// Reads a non-blocking pipe until it would block or ends; bounded by what is buffered in it.
fn drain_now<T: Read>(pipe: Async<T>, into: &mut Captured, cap: usize, buf: &mut [u8]) {
    let Ok(mut inner) = pipe.into_inner() else {
        return;
    };
    // A pipe holds at most its capacity (64 KiB by default, 1 MiB at most unless raised);
    // 1024 reads of READ_CHUNK is past that.
    for _ in 0..1024 {
        match inner.read(buf) {
            Ok(0) => break,
            Ok(n) => into.push(&buf[..n], cap),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}
