//! Our D-Bus client against the reference bus: a private `dbus-daemon` (Debian package
//! `dbus-daemon`) on a socket in a directory of its own, so the host's system bus is never
//! touched. Hello, a method call to the bus, an error reply, a signal through AddMatch,
//! messages at the size bound and over it, replies matched out of order, a peer calling us,
//! and a bus that goes away while calls wait. Testing against systemd itself needs the booted
//! test root and comes later.
//!
//! A missing `dbus-daemon` skips the test ("skipped: dbus-daemon not found"), unless
//! PCMKR_REQUIRE_INTEROP=1, where it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use async_executor::LocalExecutor;
use async_io::Timer;
use futures_lite::future;

use pcmk_remoted::dbus::conn::{self, Bus};
use pcmk_remoted::dbus::{CallError, Message, Value, BUS_NAME, BUS_PATH};
use pcmk_remoted::limits::DBUS_MAX_MESSAGE_BYTES;

const STEP: Duration = Duration::from_secs(5);

/// A private bus, stopped by its pid and its directory removed when dropped.
struct PrivateBus {
    child: Child,
    dir: PathBuf,
    socket: PathBuf,
}

impl PrivateBus {
    fn start(tag: &str) -> Option<PrivateBus> {
        let daemon = ["/usr/bin/dbus-daemon", "/bin/dbus-daemon"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(daemon) = daemon else {
            assert!(
                std::env::var("PCMKR_REQUIRE_INTEROP").as_deref() != Ok("1"),
                "dbus-daemon not found and PCMKR_REQUIRE_INTEROP=1"
            );
            println!("skipped: dbus-daemon not found");
            return None;
        };
        let dir = std::env::temp_dir().join(format!("pcmkr-dbus-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("bus.sock");
        let config = dir.join("bus.conf");
        // The session bus's policy, with messages allowed up to twice our bound so the test
        // can send one over it; the bus's own limit is not what is tested.
        fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={}</listen>
  <auth>EXTERNAL</auth>
  <limit name="max_message_size">{}</limit>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
    <allow user="*"/>
  </policy>
</busconfig>
"#,
                socket.display(),
                2 * DBUS_MAX_MESSAGE_BYTES
            ),
        )
        .unwrap();
        let child = Command::new(daemon)
            .arg(format!("--config-file={}", config.display()))
            .arg("--nofork")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let bus = PrivateBus { child, dir, socket };
        let deadline = Instant::now() + STEP;
        while !bus.socket.exists() {
            assert!(Instant::now() < deadline, "dbus-daemon did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(bus)
    }

    fn stop(&mut self) {
        pcmk_remoted::sys::process::terminate(self.child.id());
        let _ = self.child.wait();
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Runs `test` on a one-thread executor, with a deadline on the whole.
fn run<F: std::future::Future<Output = ()>>(ex: &Rc<LocalExecutor<'static>>, test: F) {
    future::block_on(ex.run(future::or(test, async {
        Timer::after(Duration::from_secs(60)).await;
        panic!("test did not finish in 60 s");
    })));
}

async fn open(ex: &Rc<LocalExecutor<'static>>, socket: &Path, max: usize) -> Bus {
    let ex2 = ex.clone();
    conn::open_with(
        socket,
        pcmk_remoted::sys::users::effective_uid(),
        max,
        move |d| {
            ex2.spawn(async move {
                let _ = d.await;
            })
            .detach()
        },
    )
    .await
    .unwrap()
}

fn bus_call(member: &str, body: Vec<Value>) -> Message {
    Message::method_call(BUS_NAME, BUS_PATH, BUS_NAME, member).with_body(body)
}

#[test]
fn against_a_real_dbus_daemon() {
    let Some(mut bus) = PrivateBus::start("client") else {
        return;
    };
    let ex = Rc::new(LocalExecutor::new());
    let socket = bus.socket.clone();
    run(&ex, async {
        // Hello: each connection gets its unique name.
        let a = open(&ex, &socket, DBUS_MAX_MESSAGE_BYTES).await;
        let b = open(&ex, &socket, 2 * DBUS_MAX_MESSAGE_BYTES).await;
        let a_name = a.unique_name().unwrap();
        let b_name = b.unique_name().unwrap();
        assert!(a_name.starts_with(":1."), "{a_name}");
        assert_ne!(a_name, b_name);

        // A method call to the bus, with a reply.
        let reply = a
            .call(bus_call("GetNameOwner", vec![Value::str(BUS_NAME)]), STEP)
            .await
            .unwrap();
        assert_eq!(reply.body, [Value::str(BUS_NAME)]);
        let reply = a.call(bus_call("ListNames", vec![]), STEP).await.unwrap();
        let Some(Value::Array(elem, names)) = reply.body.first() else {
            panic!("{reply:?}");
        };
        assert_eq!(elem, "s");
        assert!(names.contains(&Value::str(&b_name)));

        // An error reply.
        let err = a
            .call(
                bus_call("GetNameOwner", vec![Value::str("no.such.name")]),
                STEP,
            )
            .await
            .unwrap_err();
        let CallError::Error { name, message } = err else {
            panic!("{err:?}");
        };
        assert_eq!(name, "org.freedesktop.DBus.Error.NameHasNoOwner");
        assert!(message.contains("no.such.name"), "{message}");
        let err = a
            .call(bus_call("NoSuchMethod", vec![]), STEP)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, CallError::Error { name, .. } if name == "org.freedesktop.DBus.Error.UnknownMethod"),
            "{err:?}"
        );

        // Several calls at once, answered in whatever order: each gets its own reply.
        let calls: Vec<_> = ["GetId", "ListNames", "GetId"]
            .iter()
            .map(|m| a.call(bus_call(m, vec![]), STEP))
            .collect();
        let mut replies = Vec::new();
        for c in calls {
            replies.push(c.await.unwrap());
        }
        assert_eq!(replies[0].body, replies[2].body);
        assert_eq!(
            replies[1].body.first().map(Value::signature).as_deref(),
            Some("as")
        );

        // A signal through AddMatch: b listens, a emits (the shape of systemd's JobRemoved).
        let rule = "type='signal',interface='org.freedesktop.systemd1.Manager',member='JobRemoved'";
        b.add_match(rule).await.unwrap();
        let job = Message::signal(
            "/org/freedesktop/systemd1",
            "org.freedesktop.systemd1.Manager",
            "JobRemoved",
        )
        .with_body(vec![
            Value::U32(42),
            Value::Path("/org/freedesktop/systemd1/job/42".into()),
            Value::str("dummy.service"),
            Value::str("done"),
        ]);
        // A signal the rule does not match is not delivered.
        a.send(&Message::signal("/x", "org.example.Other", "Noise"))
            .unwrap();
        a.send(&job).unwrap();
        // The bus's own NameAcquired (sent to every new connection) comes first; the
        // unmatched signal never does.
        let mut got = None;
        for _ in 0..4 {
            let next = future::or(b.next_signal(), async {
                Timer::after(STEP).await;
                None
            })
            .await
            .expect("JobRemoved delivered");
            assert_ne!(next.header.member.as_deref(), Some("Noise"));
            if next.header.member.as_deref() == Some("JobRemoved") {
                got = Some(next);
                break;
            }
        }
        let got = got.expect("JobRemoved delivered");
        assert_eq!(got.header.member.as_deref(), Some("JobRemoved"));
        assert_eq!(got.header.sender.as_deref(), Some(a_name.as_str()));
        assert_eq!(got.body, job.body);

        // A peer calling us gets an answer rather than a timeout.
        let ping = Message::method_call(&b_name, "/", "org.freedesktop.DBus.Peer", "Ping");
        assert!(a.call(ping, STEP).await.is_ok());
        let other = Message::method_call(&b_name, "/", "org.example.X", "Do");
        let err = a.call(other, STEP).await.unwrap_err();
        assert!(
            matches!(&err, CallError::Error { name, .. } if name == "org.freedesktop.DBus.Error.UnknownMethod"),
            "{err:?}"
        );

        // Messages at the bound: b sends a an unanswered call of exactly
        // DBUS_MAX_MESSAGE_BYTES as a receives it (with the sender field the bus adds), which
        // arrives whole, so a answers it.
        let take = |n: usize| {
            Message::method_call(&a_name, "/", "org.example.Big", "Take")
                .with_body(vec![Value::Bytes(vec![7; n])])
        };
        let mut as_received = take(0);
        as_received.header.sender = Some(b_name.clone());
        let base = as_received.encode_with(1, false, usize::MAX).unwrap().len();
        let fill = DBUS_MAX_MESSAGE_BYTES - base;
        let err = b.call(take(fill), STEP).await.unwrap_err();
        assert!(
            matches!(&err, CallError::Error { name, .. } if name == "org.freedesktop.DBus.Error.UnknownMethod"),
            "a message at the bound was not taken whole: {err:?}"
        );
        // One byte over a's bound: a drops it unread (b waits in vain), and a's connection
        // goes on.
        let err = b
            .call(take(fill + 1), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert_eq!(err, CallError::Timeout);
        assert!(a.is_connected());
        let reply = a.call(bus_call("GetId", vec![]), STEP).await.unwrap();
        assert_eq!(reply.body, replies[0].body);
        // Our own over-sized message is refused before anything is sent.
        let too_big = Message::method_call(BUS_NAME, BUS_PATH, BUS_NAME, "GetId")
            .with_body(vec![Value::Bytes(vec![0; DBUS_MAX_MESSAGE_BYTES])]);
        let err = a.call(too_big, STEP).await.unwrap_err();
        assert!(matches!(err, CallError::Encode(_)), "{err:?}");
        assert!(a.is_connected());

        // The bus goes away: a call made now fails at once, not at its 30 s deadline.
        let waiting = b.call(
            Message::method_call(&a_name, "/", "org.example.Slow", "Never"),
            Duration::from_secs(30),
        );
        bus.stop();
        let started = Instant::now();
        let err = waiting.await.unwrap_err();
        assert!(started.elapsed() < STEP, "waited {:?}", started.elapsed());
        assert!(matches!(err, CallError::Disconnected(_)), "{err:?}");
        let deadline = Instant::now() + STEP;
        while a.is_connected() {
            assert!(
                Instant::now() < deadline,
                "still connected after the bus stopped"
            );
            Timer::after(Duration::from_millis(20)).await;
        }
        let err = a.call(bus_call("GetId", vec![]), STEP).await.unwrap_err();
        assert!(matches!(err, CallError::Disconnected(_)), "{err:?}");
        // Signals received before the end are still handed out, then the stream ends.
        let mut left = 0;
        while a.next_signal().await.is_some() {
            left += 1;
            assert!(left < 10, "signals never end");
        }
    });
}

#[test]
fn no_bus_is_a_clear_error() {
    let ex = Rc::new(LocalExecutor::new());
    run(&ex, async {
        let missing = std::env::temp_dir().join(format!("pcmkr-dbus-none-{}", std::process::id()));
        let err = conn::open(&missing, |_| {}).await.err().unwrap();
        assert!(
            err.to_string()
                .contains("cannot reach the D-Bus system bus"),
            "{err}"
        );
    });
}
