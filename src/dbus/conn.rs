//! One connection to the bus on our one-thread loop: the shell around the sans-I/O codec.
//!
//! [`connect`] opens the Unix socket without blocking, authenticates (SASL EXTERNAL) and
//! returns a [`Bus`] handle and its [`Driver`]. The caller spawns the driver on its
//! `LocalExecutor`; the driver alone touches the socket: it writes queued messages, reads and
//! frames what arrives, completes the call each reply belongs to and queues signals. Handles
//! send calls with fresh serials and await their replies with a deadline. When the bus goes
//! away every waiting call fails with [`CallError::Disconnected`] and the driver ends with the
//! reason, so nothing hangs. No thread, no blocking call; every queue is bounded
//! (`DBUS_MAX_PENDING_CALLS`, `DBUS_MAX_QUEUED_SIGNALS`, `DBUS_MAX_OUTBOUND_BYTES`).

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{future, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::auth::{Auth, AuthError};
use super::framer::{Frame, Framer};
use super::message::{Kind, Message};
use super::value::Value;
use super::{DecodeError, EncodeError, BUS_NAME, BUS_PATH};
use crate::limits::{
    DBUS_CONNECT_TIMEOUT, DBUS_DEFAULT_CALL_TIMEOUT, DBUS_MAX_MESSAGE_BYTES,
    DBUS_MAX_OUTBOUND_BYTES, DBUS_MAX_PENDING_CALLS, DBUS_MAX_QUEUED_SIGNALS,
};
use crate::logging::{escaped, Source};

/// Bytes read from the socket at once.
const READ_CHUNK: usize = 64 * 1024;

/// Socket reads and writes the driver makes before it lets other tasks run.
const DRIVER_BUDGET: usize = 64;

/// Why a connection could not be made.
#[derive(Debug)]
pub enum ConnectError {
    /// The socket could not be opened, read or written (no bus there, permissions).
    Io(io::Error),
    /// The bus refused our authentication or answered nonsense.
    Auth(AuthError),
    /// The bus closed the socket during authentication.
    Closed,
    /// Authentication and `Hello` did not finish within [`DBUS_CONNECT_TIMEOUT`].
    Timeout,
    /// `Hello` failed.
    Hello(CallError),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Io(e) => write!(f, "cannot reach the D-Bus system bus: {e}"),
            ConnectError::Auth(e) => write!(f, "D-Bus authentication failed: {e}"),
            ConnectError::Closed => write!(
                f,
                "the D-Bus bus closed the connection during authentication"
            ),
            ConnectError::Timeout => write!(
                f,
                "no answer from the D-Bus bus within {} s",
                DBUS_CONNECT_TIMEOUT.as_secs()
            ),
            ConnectError::Hello(e) => write!(f, "D-Bus Hello failed: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

/// Why a call got no successful reply.
#[derive(Debug, Clone, PartialEq)]
pub enum CallError {
    /// The peer answered with an error reply.
    Error {
        /// The error name (`org.freedesktop.systemd1.NoSuchUnit`, ...).
        name: String,
        /// Its message, if it sent one.
        message: String,
    },
    /// No reply within the deadline.
    Timeout,
    /// The connection is gone (the bus restarted or closed it), with the reason.
    Disconnected(String),
    /// A bound of ours was reached; the call was not sent.
    LimitReached(&'static str),
    /// Our message could not be encoded; nothing was sent.
    Encode(EncodeError),
    /// The reply was larger than [`crate::limits::DBUS_MAX_MESSAGE_BYTES`] and was dropped.
    ReplyTooLarge(usize),
    /// The reply was not a valid message, or not of the expected types.
    BadReply(String),
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Error { name, message } => write!(f, "{message} ({name})"),
            CallError::Timeout => write!(f, "no reply in time"),
            CallError::Disconnected(why) => write!(f, "D-Bus connection lost: {why}"),
            CallError::LimitReached(which) => write!(f, "D-Bus limit {which} reached"),
            CallError::Encode(e) => e.fmt(f),
            CallError::ReplyTooLarge(n) => write!(f, "reply of {n} bytes dropped, over the bound"),
            CallError::BadReply(what) => write!(f, "invalid reply: {what}"),
        }
    }
}

impl std::error::Error for CallError {}

/// A call waiting for its reply.
enum Pending {
    Waiting(Option<Waker>),
    Done(Result<Message, CallError>),
}

/// What handles and the driver share.
struct Shared {
    /// `Some(reason)` once the connection is closed.
    closed: Option<String>,
    /// Closed by [`Bus::close`], not by the bus.
    closed_by_us: bool,
    next_serial: u32,
    outbound: VecDeque<Vec<u8>>,
    /// Bytes of `outbound` not yet written, and how far into its front we are.
    outbound_bytes: usize,
    front_written: usize,
    pending: HashMap<u32, Pending>,
    signals: VecDeque<Message>,
    signals_dropped: u64,
    driver: Option<Waker>,
    signal_waiter: Option<Waker>,
    unique_name: Option<String>,
    max_message: usize,
}

impl Shared {
    fn wake_driver(&mut self) {
        if let Some(w) = self.driver.take() {
            w.wake();
        }
    }

    fn serial(&mut self) -> u32 {
        let s = self.next_serial;
        self.next_serial = self.next_serial.checked_add(1).unwrap_or(1);
        s
    }

    /// Encodes and queues `msg`; returns its serial.
    fn enqueue(&mut self, msg: &Message) -> Result<u32, CallError> {
        if let Some(why) = &self.closed {
            return Err(CallError::Disconnected(why.clone()));
        }
        let serial = self.serial();
        let bytes = msg
            .encode_with(serial, cfg!(target_endian = "big"), self.max_message)
            .map_err(CallError::Encode)?;
        if self.outbound_bytes + bytes.len() > DBUS_MAX_OUTBOUND_BYTES {
            return Err(CallError::LimitReached("DBUS_MAX_OUTBOUND_BYTES"));
        }
        self.outbound_bytes += bytes.len();
        self.outbound.push_back(bytes);
        self.wake_driver();
        Ok(serial)
    }

    fn close(&mut self, why: String) {
        if self.closed.is_some() {
            return;
        }
        log::debug!("D-Bus connection closed: {why}");
        for p in self.pending.values_mut() {
            if let Pending::Waiting(w) = p {
                if let Some(w) = w.take() {
                    w.wake();
                }
                *p = Pending::Done(Err(CallError::Disconnected(why.clone())));
            }
        }
        if let Some(w) = self.signal_waiter.take() {
            w.wake();
        }
        self.outbound.clear();
        self.outbound_bytes = 0;
        self.closed = Some(why);
    }

    fn complete(&mut self, serial: u32, result: Result<Message, CallError>) {
        if let Some(p) = self.pending.get_mut(&serial) {
            if let Pending::Waiting(w) = p {
                if let Some(w) = w.take() {
                    w.wake();
                }
                *p = Pending::Done(result);
            }
        }
        // A reply to nothing we wait for (a call that timed out): dropped.
    }

    /// Routes one frame from the bus.
    fn dispatch(&mut self, frame: Frame) {
        match frame {
            Frame::Message(m) => match m.kind() {
                Kind::MethodReturn | Kind::Error => {
                    let serial = m.header.reply_serial.unwrap_or(0);
                    let result = if m.kind() == Kind::Error {
                        Err(CallError::Error {
                            name: m.header.error_name.clone().unwrap_or_default(),
                            message: m.first_str().unwrap_or_default().to_string(),
                        })
                    } else {
                        Ok(m)
                    };
                    self.complete(serial, result);
                }
                Kind::Signal => {
                    if self.signals.len() >= DBUS_MAX_QUEUED_SIGNALS {
                        self.signals_dropped += 1;
                        crate::limited!(
                            Source::LocalClient,
                            log::Level::Warn,
                            "D-Bus signal {}.{} from {} dropped: {} signals queued \
                             (DBUS_MAX_QUEUED_SIGNALS), {} dropped so far",
                            escaped(m.header.interface.as_deref().unwrap_or("")),
                            escaped(m.header.member.as_deref().unwrap_or("")),
                            escaped(m.header.sender.as_deref().unwrap_or("?")),
                            self.signals.len(),
                            self.signals_dropped
                        );
                        return;
                    }
                    self.signals.push_back(m);
                    if let Some(w) = self.signal_waiter.take() {
                        w.wake();
                    }
                }
                Kind::MethodCall => self.answer_call(&m),
                Kind::Other(_) => {} // ignored, as the specification says
            },
            Frame::Oversized { len, header, .. } => {
                crate::limited!(
                    Source::LocalClient,
                    log::Level::Warn,
                    "D-Bus message of {len} bytes from {} dropped (DBUS_MAX_MESSAGE_BYTES)",
                    escaped(
                        header
                            .as_ref()
                            .and_then(|h| h.sender.as_deref())
                            .unwrap_or("?")
                    )
                );
                if let Some(serial) = header.and_then(|h| h.reply_serial) {
                    self.complete(serial, Err(CallError::ReplyTooLarge(len)));
                }
            }
            Frame::Invalid { header, error, .. } => {
                crate::limited!(
                    Source::LocalClient,
                    log::Level::Warn,
                    "invalid D-Bus message from {} dropped: {error}",
                    escaped(
                        header
                            .as_ref()
                            .and_then(|h| h.sender.as_deref())
                            .unwrap_or("?")
                    )
                );
                if let Some(serial) = header.and_then(|h| h.reply_serial) {
                    self.complete(serial, Err(CallError::BadReply(error.to_string())));
                }
            }
        }
    }

    /// Someone on the bus called us: `Peer.Ping` gets its empty reply, anything else an
    /// `UnknownMethod` error, so the caller does not wait for its timeout.
    fn answer_call(&mut self, call: &Message) {
        if call.header.flags & super::message::FLAG_NO_REPLY_EXPECTED != 0 {
            return;
        }
        let h = &call.header;
        let reply = if h.interface.as_deref() == Some("org.freedesktop.DBus.Peer")
            && h.member.as_deref() == Some("Ping")
        {
            Message::method_return(h)
        } else {
            Message::error(
                h,
                "org.freedesktop.DBus.Error.UnknownMethod",
                "pcmk-remoted exports no objects",
            )
        };
        // Best effort: at the outbound bound the caller times out instead.
        let _ = self.enqueue(&reply);
    }
}

/// A handle on the connection; cheap to clone, used from tasks on the same thread.
#[derive(Clone)]
pub struct Bus {
    shared: Rc<RefCell<Shared>>,
}

/// Runs the connection; spawn it on the `LocalExecutor`. Ends when the connection closes
/// (with the reason) or when every [`Bus`] handle is gone.
pub struct Driver {
    shared: Rc<RefCell<Shared>>,
    stream: Async<UnixStream>,
    framer: Framer,
    read_buf: Vec<u8>,
    /// Bytes received with the authentication answer, for the framer first.
    early: Vec<u8>,
}

/// Connects to the bus at `path` as our effective uid, authenticates and says `Hello`,
/// within [`DBUS_CONNECT_TIMEOUT`]. `spawn` starts the driver (e.g.
/// `|d| ex.spawn(d).detach()`); `Hello` needs it running.
pub async fn open(path: &Path, spawn: impl FnOnce(Driver)) -> Result<Bus, ConnectError> {
    open_with(
        path,
        crate::sys::users::effective_uid(),
        DBUS_MAX_MESSAGE_BYTES,
        spawn,
    )
    .await
}

/// [`open`] with the uid to authenticate as and the message bound (tests use other values).
pub async fn open_with(
    path: &Path,
    uid: u32,
    max_message: usize,
    spawn: impl FnOnce(Driver),
) -> Result<Bus, ConnectError> {
    let attempt = async {
        let (bus, driver) = connect(path, uid, max_message).await?;
        spawn(driver);
        bus.hello().await.map_err(ConnectError::Hello)?;
        Ok(bus)
    };
    future::or(attempt, async {
        Timer::after(DBUS_CONNECT_TIMEOUT).await;
        Err(ConnectError::Timeout)
    })
    .await
}

/// Opens the socket and authenticates; the returned driver is not running yet.
pub async fn connect(
    path: &Path,
    uid: u32,
    max_message: usize,
) -> Result<(Bus, Driver), ConnectError> {
    let mut stream = Async::<UnixStream>::connect(path)
        .await
        .map_err(ConnectError::Io)?;
    let (mut auth, first) = Auth::start(uid);
    stream.write_all(&first).await.map_err(ConnectError::Io)?;
    let mut buf = vec![0u8; 4096];
    let early = loop {
        let n = stream.read(&mut buf).await.map_err(ConnectError::Io)?;
        if n == 0 {
            return Err(ConnectError::Closed);
        }
        let (used, done) = auth.feed(&buf[..n]).map_err(ConnectError::Auth)?;
        if let Some(ok) = done {
            stream.write_all(ok.reply).await.map_err(ConnectError::Io)?;
            break buf[used..n].to_vec();
        }
    };
    let shared = Rc::new(RefCell::new(Shared {
        closed: None,
        closed_by_us: false,
        next_serial: 1,
        outbound: VecDeque::new(),
        outbound_bytes: 0,
        front_written: 0,
        pending: HashMap::new(),
        signals: VecDeque::new(),
        signals_dropped: 0,
        driver: None,
        signal_waiter: None,
        unique_name: None,
        max_message,
    }));
    let driver = Driver {
        shared: shared.clone(),
        stream,
        framer: Framer::new(max_message),
        read_buf: vec![0; READ_CHUNK],
        early,
    };
    Ok((Bus { shared }, driver))
}

impl Bus {
    /// Says `Hello` and keeps the unique name the bus gives us; the first call on a new
    /// connection (the bus refuses anything else before it).
    pub async fn hello(&self) -> Result<String, CallError> {
        let reply = self
            .call(
                Message::method_call(BUS_NAME, BUS_PATH, BUS_NAME, "Hello"),
                DBUS_DEFAULT_CALL_TIMEOUT,
            )
            .await?;
        let name = reply
            .first_str()
            .ok_or_else(|| CallError::BadReply("Hello without a name".into()))?
            .to_string();
        self.shared.borrow_mut().unique_name = Some(name.clone());
        Ok(name)
    }

    /// Our unique name (`:1.42`) once `Hello` succeeded.
    pub fn unique_name(&self) -> Option<String> {
        self.shared.borrow().unique_name.clone()
    }

    /// Whether the connection is still up.
    pub fn is_connected(&self) -> bool {
        self.shared.borrow().closed.is_none()
    }

    /// Sends a method call and waits up to `timeout` for its reply. An error reply is
    /// [`CallError::Error`].
    pub async fn call(&self, msg: Message, timeout: Duration) -> Result<Message, CallError> {
        let serial = {
            let mut s = self.shared.borrow_mut();
            if s.pending.len() >= DBUS_MAX_PENDING_CALLS {
                return Err(CallError::LimitReached("DBUS_MAX_PENDING_CALLS"));
            }
            let serial = s.enqueue(&msg)?;
            s.pending.insert(serial, Pending::Waiting(None));
            serial
        };
        let waiting = Waiting {
            shared: self.shared.clone(),
            serial,
        };
        future::or(waiting, async {
            Timer::after(timeout).await;
            Err(CallError::Timeout)
        })
        .await
    }

    /// Sends a message that expects no reply (a signal, or a call flagged so); returns its
    /// serial.
    pub fn send(&self, msg: &Message) -> Result<u32, CallError> {
        self.shared.borrow_mut().enqueue(msg)
    }

    /// Asks the bus to route signals matching `rule` to us (`AddMatch`).
    pub async fn add_match(&self, rule: &str) -> Result<(), CallError> {
        self.call(
            Message::method_call(BUS_NAME, BUS_PATH, BUS_NAME, "AddMatch")
                .with_body(vec![Value::str(rule)]),
            DBUS_DEFAULT_CALL_TIMEOUT,
        )
        .await
        .map(|_| ())
    }

    /// The next signal received; `None` once the connection is closed and none is left.
    pub fn next_signal(&self) -> impl Future<Output = Option<Message>> + '_ {
        future::poll_fn(move |cx| {
            let mut s = self.shared.borrow_mut();
            if let Some(m) = s.signals.pop_front() {
                return Poll::Ready(Some(m));
            }
            if s.closed.is_some() {
                return Poll::Ready(None);
            }
            s.signal_waiter = Some(cx.waker().clone());
            Poll::Pending
        })
    }

    /// Signals dropped at [`DBUS_MAX_QUEUED_SIGNALS`] so far.
    pub fn signals_dropped(&self) -> u64 {
        self.shared.borrow().signals_dropped
    }

    /// Closes the connection: waiting calls fail, the driver ends.
    pub fn close(&self) {
        let mut s = self.shared.borrow_mut();
        s.closed_by_us = true;
        s.close("closed by us".into());
        s.wake_driver();
    }
}

/// Waits for the reply to one serial; forgets the call when dropped (timeout, cancel).
struct Waiting {
    shared: Rc<RefCell<Shared>>,
    serial: u32,
}

impl Future for Waiting {
    type Output = Result<Message, CallError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = self.shared.borrow_mut();
        match s.pending.remove(&self.serial) {
            Some(Pending::Done(result)) => Poll::Ready(result),
            Some(Pending::Waiting(_)) => {
                s.pending
                    .insert(self.serial, Pending::Waiting(Some(cx.waker().clone())));
                Poll::Pending
            }
            None => Poll::Ready(Err(CallError::Disconnected("call forgotten".into()))),
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Ok(mut s) = self.shared.try_borrow_mut() {
            s.pending.remove(&self.serial);
        }
    }
}

impl Future for Driver {
    type Output = Result<(), String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if !this.early.is_empty() {
            let early = std::mem::take(&mut this.early);
            if let Err(why) = this.take_bytes(&early) {
                return Poll::Ready(Err(why));
            }
        }
        for _ in 0..DRIVER_BUDGET {
            {
                let s = this.shared.borrow();
                if let Some(why) = &s.closed {
                    return Poll::Ready(if s.closed_by_us {
                        Ok(())
                    } else {
                        Err(why.clone())
                    });
                }
            }
            if Rc::strong_count(&this.shared) == 1 {
                return Poll::Ready(Ok(())); // every handle is gone
            }
            let wrote = match this.write_some(cx) {
                Ok(w) => w,
                Err(why) => return Poll::Ready(Err(this.fail(why))),
            };
            let read = match Pin::new(&mut this.stream).poll_read(cx, &mut this.read_buf) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(this.fail("the bus closed the connection".into())))
                }
                Poll::Ready(Ok(n)) => {
                    let bytes = this.read_buf[..n].to_vec();
                    if let Err(why) = this.take_bytes(&bytes) {
                        return Poll::Ready(Err(why));
                    }
                    true
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => true,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(this.fail(e.to_string()))),
                Poll::Pending => false,
            };
            if !wrote && !read {
                this.shared.borrow_mut().driver = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        // Busy: let other tasks run, then carry on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl Driver {
    /// Writes what is queued; true if anything was written.
    fn write_some(&mut self, cx: &mut Context<'_>) -> Result<bool, String> {
        let mut wrote = false;
        loop {
            let mut s = self.shared.borrow_mut();
            let offset = s.front_written;
            let Some(front) = s.outbound.front() else {
                return Ok(wrote);
            };
            let len = front.len();
            match Pin::new(&mut self.stream).poll_write(cx, &front[offset..]) {
                Poll::Ready(Ok(0)) => return Err("the bus stopped taking bytes".into()),
                Poll::Ready(Ok(n)) => {
                    wrote = true;
                    s.outbound_bytes -= n;
                    s.front_written += n;
                    if s.front_written == len {
                        s.outbound.pop_front();
                        s.front_written = 0;
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Err(e.to_string()),
                Poll::Pending => return Ok(wrote),
            }
        }
    }

    /// Frames `bytes` and routes every complete message.
    fn take_bytes(&mut self, mut bytes: &[u8]) -> Result<(), String> {
        // Each pass uses at least one byte or yields a frame: bounded by the input length.
        while !bytes.is_empty() {
            match self.framer.feed(bytes) {
                Ok((used, frame)) => {
                    bytes = &bytes[used..];
                    if let Some(frame) = frame {
                        self.shared.borrow_mut().dispatch(frame);
                    }
                }
                Err(e) => return Err(self.fail(stream_broken(&e))),
            }
        }
        Ok(())
    }

    fn fail(&mut self, why: String) -> String {
        self.shared.borrow_mut().close(why.clone());
        why
    }
}

fn stream_broken(e: &DecodeError) -> String {
    format!("unreadable D-Bus stream: {e}")
}
