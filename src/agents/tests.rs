//! Agent preparation and exit mapping, table-driven.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::*;
use crate::process::Captured;

fn finished(exit: ChildExit, stdout: &str, stderr: &str) -> Finished {
    Finished {
        exit,
        stdout: Captured {
            bytes: stdout.as_bytes().to_vec(),
            discarded: 0,
        },
        stderr: Captured {
            bytes: stderr.as_bytes().to_vec(),
            discarded: 0,
        },
    }
}

#[test]
fn exit_codes_map_per_class() {
    let cases = [
        (Mapping::Ocf, 0, 0),
        (Mapping::Ocf, 7, 7),
        (Mapping::Ocf, 9, 9),
        (Mapping::Ocf, 10, 1),
        (Mapping::Ocf, 190, 190),
        (Mapping::Ocf, 191, 191),
        (Mapping::Ocf, 189, 1),
        (Mapping::Lsb, 3, 3),
        (Mapping::Lsb, 8, 1),
        (Mapping::LsbStatus, 0, 0),
        (Mapping::LsbStatus, 1, 7),
        (Mapping::LsbStatus, 3, 7),
        (Mapping::LsbStatus, 4, 1),
        (Mapping::LsbStatus, 150, 5),
        (Mapping::LsbStatus, 151, 4),
        (Mapping::Nagios, 0, 0),
        (Mapping::Nagios, 1, 190),
        (Mapping::Nagios, 2, 1),
        (Mapping::Nagios, 3, 1),
        (Mapping::Nagios, 100, 4),
        (Mapping::NagiosProbe, 0, 7),
        (Mapping::NagiosProbe, 2, 1),
    ];
    for (mapping, code, want) in cases {
        assert_eq!(map_exit_code(mapping, code), want, "{mapping:?} {code}");
    }
}

#[test]
fn exit_reasons_follow_the_original() {
    let long = "r".repeat(200);
    let cases: Vec<(String, Option<String>)> = vec![
        (
            "x\nocf-exit-reason:first\nocf-exit-reason:final\nafter\n".into(),
            Some("final".into()),
        ),
        ("ocf-exit-reason:first\nocf-exit-reason:\n".into(), None),
        ("ocf-exit-reason:first\nocf-exit-reason:".into(), None),
        (
            "text ocf-exit-reason:mid-line".into(),
            Some("mid-line".into()),
        ),
        ("no reason here\n".into(), None),
        (format!("ocf-exit-reason:{long}\n"), Some("r".repeat(128))),
        (
            "ocf-exit-reason:before\0ocf-exit-reason:after".into(),
            Some("before".into()),
        ),
    ];
    for (stderr, want) in cases {
        assert_eq!(exit_reason(&stderr), want, "{stderr:?}");
    }
}

#[test]
fn results_read_stderr_first_and_keep_trailing_newlines() {
    let r = interpret(
        Mapping::Ocf,
        &finished(ChildExit::Code(0), "out\n", "err\nocf-exit-reason:why\n"),
    );
    assert_eq!((r.rc, r.status), (0, ExecStatus::Done));
    assert_eq!(r.output.as_deref(), Some("err\nocf-exit-reason:why\n"));
    assert_eq!(r.exit_reason.as_deref(), Some("why"));
    let r = interpret(
        Mapping::Ocf,
        &finished(ChildExit::Code(0), "only stdout\n", ""),
    );
    assert_eq!(r.output.as_deref(), Some("only stdout\n"));
    let r = interpret(
        Mapping::Lsb,
        &finished(ChildExit::Code(1), "", "ocf-exit-reason:x\n"),
    );
    assert_eq!(r.exit_reason, None, "exit reasons are parsed for OCF only");
    let r = interpret(Mapping::Ocf, &finished(ChildExit::Code(0), "", ""));
    assert_eq!(r.output, None);
}

#[test]
fn signals_are_named_as_glibc_names_them() {
    let r = interpret(
        Mapping::Ocf,
        &finished(ChildExit::Signal(libc::SIGTERM), "", ""),
    );
    assert_eq!((r.rc, r.status), (1, ExecStatus::Error));
    assert_eq!(
        r.exit_reason.as_deref(),
        Some("Resource agent interrupted by Terminated signal")
    );
    let r = interpret(
        Mapping::Ocf,
        &finished(ChildExit::Signal(libc::SIGSEGV), "", ""),
    );
    assert_eq!(
        r.exit_reason.as_deref(),
        Some("Resource agent interrupted by Segmentation fault signal")
    );
}

#[test]
fn an_agent_that_cannot_be_executed_reports_like_the_original_child() {
    let r = spawn_failure(Mapping::Ocf, &io::Error::from_raw_os_error(libc::EACCES));
    assert_eq!((r.rc, r.status), (4, ExecStatus::Done));
    assert_eq!(
        r.exit_reason.as_deref(),
        Some("Child process was unable to execute file")
    );
    assert_eq!(
        r.output.as_deref(),
        Some("ocf-exit-reason:Child process was unable to execute file\n")
    );
    let r = spawn_failure(
        Mapping::LsbStatus,
        &io::Error::from_raw_os_error(libc::EACCES),
    );
    assert_eq!((r.rc, r.exit_reason), (4, None));
    let r = spawn_failure(Mapping::Lsb, &io::Error::from_raw_os_error(libc::ENOENT));
    assert_eq!(r.rc, 5);
}

struct Tree {
    root: PathBuf,
    paths: Paths,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn tree(tag: &str) -> Tree {
    let root = std::env::temp_dir().join(format!("pcmkr-agents-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&root);
    for d in ["ocf/resource.d/test", "init.d", "nagios"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    for f in ["ocf/resource.d/test/Dummy", "init.d/svc", "nagios/check_x"] {
        fs::write(root.join(f), "#!/bin/sh\n").unwrap();
        fs::set_permissions(root.join(f), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let paths = Paths {
        ocf_root: root.join("ocf"),
        ocf_ra_path: vec![root.join("missing"), root.join("ocf/resource.d")],
        lsb_dir: root.join("init.d"),
        nagios_dir: root.join("nagios"),
        secrets_dir: root.join("secrets"),
    };
    Tree { root, paths }
}

fn def(class: &str, provider: Option<&str>, agent: &str) -> Definition {
    Definition {
        class: class.into(),
        provider: provider.map(str::to_string),
        agent: agent.into(),
    }
}

fn params(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn ocf_invocations_carry_the_full_environment() {
    let t = tree("ocf");
    let p = params(&[
        ("CRM_meta_timeout", "20000"),
        ("ip", "10.0.0.1"),
        ("OCF_CHECK_LEVEL", "10"),
        ("bad=name", "x"),
    ]);
    let Prepared::Run {
        invocation: inv,
        mapping,
    } = prepare(
        &t.paths,
        &def("ocf", Some("test"), "Dummy"),
        "d1",
        "monitor",
        0,
        &p,
    )
    else {
        panic!("not run")
    };
    assert_eq!(inv.program, t.root.join("ocf/resource.d/test/Dummy"));
    assert_eq!(inv.args, ["monitor"]);
    let env: std::collections::HashMap<_, _> = inv.env.iter().cloned().collect();
    for (k, v) in [
        ("OCF_ROOT", t.root.join("ocf").display().to_string()),
        ("OCF_RA_VERSION_MAJOR", "1".into()),
        ("OCF_RA_VERSION_MINOR", "1".into()),
        ("OCF_EXIT_REASON_PREFIX", "ocf-exit-reason:".into()),
        ("OCF_RESOURCE_INSTANCE", "d1".into()),
        ("OCF_RESOURCE_TYPE", "Dummy".into()),
        ("OCF_RESOURCE_PROVIDER", "test".into()),
        ("OCF_RESKEY_CRM_meta_timeout", "20000".into()),
        ("OCF_RESKEY_ip", "10.0.0.1".into()),
        ("OCF_CHECK_LEVEL", "10".into()),
    ] {
        assert_eq!(env.get(k), Some(&v), "{k}");
    }
    assert!(!env.contains_key("OCF_RESKEY_OCF_CHECK_LEVEL"));
    assert!(!env.keys().any(|k| k.contains("bad=")));
    assert_eq!(mapping, Mapping::Ocf);
}

#[test]
fn agents_that_cannot_run_are_answered_without_running() {
    let t = tree("missing");
    let cases = [
        (
            def("ocf", Some("test"), "Nope"),
            5,
            ExecStatus::NotInstalled,
            "Nope: No such file or directory".to_string(),
        ),
        (
            def("ocf", None, "Dummy"),
            1,
            ExecStatus::ErrorFatal,
            "Required agent or action information missing".to_string(),
        ),
        (
            def("foo", None, "bar"),
            5,
            ExecStatus::NotInstalled,
            "bar: No such file or directory".to_string(),
        ),
        (
            def("lsb", None, "nosvc"),
            5,
            ExecStatus::NotInstalled,
            if cfg!(feature = "class-lsb") {
                format!(
                    "{}: No such file or directory",
                    t.root.join("init.d/nosvc").display()
                )
            } else {
                "agent class 'lsb' is not supported in this build of pcmk-remoted (feature class-lsb)"
                    .to_string()
            },
        ),
        (
            def("stonith", None, "fence_x"),
            1,
            ExecStatus::Error,
            "No connection to fencer".to_string(),
        ),
    ];
    for (d, rc, status, reason) in cases {
        let Prepared::Finished(r) = prepare(&t.paths, &d, "r", "start", 0, &[]) else {
            panic!("{d:?} would run")
        };
        assert_eq!(
            (r.rc, r.status, r.exit_reason.as_deref()),
            (rc, status, Some(reason.as_str())),
            "{d:?}"
        );
    }
    let Prepared::Finished(r) =
        prepare(&t.paths, &def("stonith", None, "f"), "r", "monitor", 0, &[])
    else {
        panic!()
    };
    assert_eq!((r.rc, r.status), (7, ExecStatus::Error));
}

/// `service:` with no LSB script asks systemd, and answers LSB's "missing" when systemd does
/// not know the unit either.
#[cfg(all(feature = "class-service", feature = "class-systemd"))]
#[test]
fn service_without_a_script_falls_back_to_systemd() {
    let t = tree("lsb");
    let Prepared::Unit {
        action,
        agent,
        or_else: Some(r),
    } = prepare(
        &t.paths,
        &def("service", None, "nfs-server"),
        "r",
        "start",
        0,
        &[],
    )
    else {
        panic!()
    };
    assert_eq!((action.as_str(), agent.as_str()), ("start", "nfs-server"));
    assert_eq!((r.rc, r.status), (5, ExecStatus::NotInstalled));
    assert!(matches!(
        prepare(&t.paths, &def("service", None, "svc"), "r", "start", 0, &[]),
        Prepared::Run { .. }
    ));
    assert!(matches!(
        prepare(&t.paths, &def("systemd", None, "svc"), "r", "start", 0, &[]),
        Prepared::Unit { or_else: None, .. }
    ));
}

#[cfg(feature = "class-service")]
#[test]
fn lsb_runs_monitor_as_status_without_parameters() {
    let t = tree("lsb");
    for class in ["lsb", "service"] {
        let Prepared::Run {
            invocation: inv,
            mapping,
        } = prepare(
            &t.paths,
            &def(class, None, "svc"),
            "r",
            "monitor",
            0,
            &params(&[("a", "b")]),
        )
        else {
            panic!()
        };
        assert_eq!(
            (inv.args.as_slice(), inv.env.len(), mapping),
            (&["status".to_string()][..], 0, Mapping::LsbStatus)
        );
        let Prepared::Run {
            invocation: inv,
            mapping,
        } = prepare(&t.paths, &def(class, None, "svc"), "r", "start", 0, &[])
        else {
            panic!()
        };
        assert_eq!(
            (inv.args.as_slice(), mapping),
            (&["start".to_string()][..], Mapping::Lsb)
        );
    }
}

#[cfg(feature = "class-nagios")]
#[test]
fn nagios_passes_parameters_as_options() {
    let t = tree("nagios");
    let p = params(&[
        ("hostname", "h1"),
        ("CRM_meta_interval", "5000"),
        ("crm_feature_set", "3.16"),
        ("port", "80"),
    ]);
    let d = def("nagios", None, "check_x");
    let Prepared::Run {
        invocation: inv,
        mapping: _,
    } = prepare(&t.paths, &d, "r", "monitor", 5000, &p)
    else {
        panic!()
    };
    assert_eq!(inv.args, ["--hostname", "h1", "--port", "80"]);
    let Prepared::Run {
        invocation: probe,
        mapping: probe_mapping,
    } = prepare(&t.paths, &d, "r", "monitor", 0, &p)
    else {
        panic!()
    };
    assert_eq!(
        (probe.args.as_slice(), probe_mapping),
        (&["--version".to_string()][..], Mapping::NagiosProbe)
    );
    let Prepared::Finished(stop) = prepare(&t.paths, &d, "r", "stop", 0, &p) else {
        panic!()
    };
    assert_eq!((stop.rc, stop.status), (0, ExecStatus::Done));
}

/// The test tree plus what a hostile name might reach: an agent outside every configured
/// directory, a directory anyone can write to, and links into both from inside.
fn tree_with_escapes(tag: &str) -> Tree {
    let t = tree(tag);
    let r = &t.root;
    let mode = |p: &Path, m: u32| fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
    for d in ["outside/prov", "open/prov", "safe/prov"] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    for f in [
        "outside/marker",
        "outside/prov/marker",
        "open/prov/marker",
        "safe/prov/marker",
    ] {
        fs::write(r.join(f), "#!/bin/sh\n").unwrap();
        mode(&r.join(f), 0o755);
    }
    for d in [
        "",
        "ocf",
        "ocf/resource.d",
        "safe",
        "safe/prov",
        "open/prov",
    ] {
        mode(&r.join(d), 0o755);
    }
    mode(&r.join("open"), 0o777);
    let link = |to: &str, from: &str| std::os::unix::fs::symlink(r.join(to), r.join(from)).unwrap();
    link("open/prov", "ocf/resource.d/escape");
    link("safe/prov", "ocf/resource.d/trusted");
    link("open/prov/marker", "ocf/resource.d/test/escaping");
    link("open/prov/marker", "init.d/escaping");
    link("open/prov/marker", "nagios/escaping");
    link("safe/prov/marker", "init.d/trusted");
    t
}

#[test]
fn names_that_would_leave_the_agent_directories_are_answered_as_missing() {
    let t = tree_with_escapes("escape");
    let outside = t.root.join("outside");
    let abs_dir = outside.display().to_string();
    let abs_agent = outside.join("marker").display().to_string();
    let abs_in_prov = outside.join("prov/marker").display().to_string();
    let init_d = t.root.join("init.d").display().to_string();
    let fatal = (
        1,
        ExecStatus::ErrorFatal,
        String::from("Required agent or action information missing"),
    );
    let missing = |name: &str| {
        (
            5,
            ExecStatus::NotInstalled,
            format!("{name}: No such file or directory"),
        )
    };
    let lsb_missing = |name: &str| missing(&format!("{init_d}/{name}"));
    let mut cases = vec![
        // OCF: absolute provider or type, `..`, a symlinked directory or file leading to a
        // directory anyone can write, NUL, empty, hidden.
        (def("ocf", Some(&abs_dir), "marker"), missing("marker")),
        (def("ocf", Some("test"), &abs_agent), missing(&abs_agent)),
        (def("ocf", Some(".."), "marker"), missing("marker")),
        (
            def("ocf", Some("test"), "../../../outside/marker"),
            missing("../../../outside/marker"),
        ),
        (
            def("ocf", Some("test/../../../outside"), "marker"),
            missing("marker"),
        ),
        (def("ocf", Some("escape"), "marker"), missing("marker")),
        (def("ocf", Some("test"), "escaping"), missing("escaping")),
        (def("ocf", Some("test"), "Dum\0my"), missing("Dum\0my")),
        (def("ocf", Some("te\0st"), "Dummy"), missing("Dummy")),
        (def("ocf", Some("test"), ".Dummy"), missing(".Dummy")),
        (def("ocf", Some("test"), ""), fatal.clone()),
        (def("ocf", Some(""), "Dummy"), fatal.clone()),
    ];
    if cfg!(feature = "class-lsb") {
        for class in ["lsb", "service"] {
            if class == "service" && !cfg!(feature = "class-service") {
                continue;
            }
            cases.extend([
                (def(class, None, &abs_agent), lsb_missing(&abs_agent)),
                (
                    def(class, None, "../outside/marker"),
                    lsb_missing("../outside/marker"),
                ),
                (def(class, None, ".."), lsb_missing("..")),
                (def(class, None, "escaping"), lsb_missing("escaping")),
                (def(class, None, "s\0vc"), lsb_missing("s\0vc")),
                (def(class, None, ""), fatal.clone()),
            ]);
        }
    }
    if cfg!(feature = "class-nagios") {
        cases.extend([
            (def("nagios", None, &abs_in_prov), missing(&abs_in_prov)),
            (
                def("nagios", None, "../outside/marker"),
                missing("../outside/marker"),
            ),
            (def("nagios", None, "escaping"), missing("escaping")),
            (def("nagios", None, ""), fatal.clone()),
        ]);
    }
    for (d, (rc, status, reason)) in cases {
        let r = match prepare(&t.paths, &d, "r", "start", 0, &[]) {
            Prepared::Finished(r) => r,
            // `service:` asks systemd before it answers LSB's "missing".
            #[cfg(feature = "class-systemd")]
            Prepared::Unit {
                or_else: Some(r), ..
            } if d.class == "service" => r,
            _ => panic!("{d:?} would run"),
        };
        assert_eq!(
            (r.rc, r.status, r.exit_reason.as_deref()),
            (rc, status, Some(reason.as_str())),
            "{d:?}"
        );
    }
}

#[test]
fn links_to_places_only_root_can_change_are_followed_as_the_original_follows_them() {
    let t = tree_with_escapes("trusted");
    let Prepared::Run {
        invocation: inv,
        mapping: _,
    } = prepare(
        &t.paths,
        &def("ocf", Some("trusted"), "marker"),
        "r",
        "start",
        0,
        &[],
    )
    else {
        panic!("a provider linked to a root-only directory must run")
    };
    // The program keeps the name it was found under, as the original's argv[0] does.
    assert_eq!(inv.program, t.root.join("ocf/resource.d/trusted/marker"));
    if cfg!(feature = "class-lsb") {
        let Prepared::Run {
            invocation: inv,
            mapping: _,
        } = prepare(&t.paths, &def("lsb", None, "trusted"), "r", "start", 0, &[])
        else {
            panic!("an init script linked to a root-only file must run")
        };
        assert_eq!(inv.program, t.root.join("init.d/trusted"));
    }
}

#[cfg(all(feature = "class-ocf", feature = "class-nagios"))]
#[test]
fn class_and_nagios_stop_are_matched_case_insensitively_as_the_original() {
    let t = tree("case");
    let p = params(&[]);
    let upper = prepare(
        &t.paths,
        &def("OCF", Some("test"), "Dummy"),
        "r",
        "start",
        0,
        &p,
    );
    assert!(matches!(upper, Prepared::Run { .. }), "OCF runs as ocf");
    let stop = prepare(
        &t.paths,
        &def("Nagios", None, "check_x"),
        "r",
        "STOP",
        0,
        &p,
    );
    let Prepared::Finished(r) = stop else {
        panic!("a nagios stop runs nothing")
    };
    assert_eq!((r.rc, r.status), (0, ExecStatus::Done));
}
