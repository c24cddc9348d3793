//! service=mysql, pgsql, ldap and ldaps against real servers started on
//! loopback from Debian's packages: MariaDB, PostgreSQL 15 and OpenLDAP's
//! slapd. For each: up, wrong receive or empty result, wrong credentials,
//! closed port, server stopped; and hostile peers.

mod check_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::{Credentials, Exchange, Receive};
use lvsd::check::{CheckKind, Probe, Prober, Service};

const T: Duration = Duration::from_secs(5);

fn exchange(request: &str, receive: &str) -> Exchange {
    let receive = (!receive.is_empty()).then(|| Receive::new(receive).unwrap());
    Exchange {
        request: request.into(),
        receive,
    }
}

fn negotiate(addr: SocketAddr, service: Service) -> Probe {
    probe(addr, CheckKind::Negotiate(service), T)
}

/// Runs `program` as the postgres user.
fn as_postgres(program: &Path) -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "postgres", "--"]).arg(program);
    c
}

fn start_postgres(dir: &Path, port: u16) -> Daemon {
    let bin = PathBuf::from("/usr/lib/postgresql/15/bin");
    binary(&bin.join("postgres").display().to_string(), "postgresql-15");
    let data = dir.join("data");
    let pw = write(dir, "pw", "secret\n");
    must("chown", &["-R", "postgres", &dir.display().to_string()]);
    let status = as_postgres(&bin.join("initdb"))
        .args([
            "-D",
            &data.display().to_string(),
            "-U",
            "lvsd",
            "--auth=scram-sha-256",
            "--no-sync",
        ])
        .arg(format!("--pwfile={}", pw.display()))
        .output()
        .expect("run initdb");
    assert!(
        status.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let mut command = as_postgres(&bin.join("postgres"));
    command.args([
        "-D",
        &data.display().to_string(),
        "-p",
        &port.to_string(),
        "-k",
        &dir.display().to_string(),
    ]);
    command.args([
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "logging_collector=off",
    ]);
    command.stderr(std::process::Stdio::null());
    let mut daemon = Daemon::spawn("postgres", &mut command);
    wait_listening(loopback(port), "postgres", Some(&mut daemon.child));
    // The port listens while the server still answers "the database system
    // is starting up"; pg_isready says when it accepts sessions.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .expect("run pg_isready");
        if ready.success() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "postgres listened but never accepted sessions within 60 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    daemon
}

fn start_mariadb(dir: &Path, port: u16) -> Daemon {
    binary("/usr/sbin/mariadbd", "mariadb-server");
    let data = dir.join("data").display().to_string();
    let sock = dir.join("sock").display().to_string();
    let out = Command::new("mariadb-install-db")
        .args([
            "--no-defaults",
            "--user=root",
            "--auth-root-authentication-method=socket",
            "--skip-test-db",
        ])
        .arg(format!("--datadir={data}"))
        .output()
        .expect("run mariadb-install-db");
    assert!(
        out.status.success(),
        "mariadb-install-db failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut command = Command::new("/usr/sbin/mariadbd");
    command.args([
        "--no-defaults",
        "--user=root",
        "--bind-address=127.0.0.1",
        "--skip-name-resolve",
    ]);
    command
        .arg(format!("--datadir={data}"))
        .arg(format!("--socket={sock}"))
        .arg(format!("--port={port}"));
    command.arg(format!("--pid-file={}/mariadb.pid", dir.display()));
    command.stderr(std::process::Stdio::null());
    let mut daemon = Daemon::spawn("mariadbd", &mut command);
    wait_listening(loopback(port), "mariadbd", Some(&mut daemon.child));
    let sql = "CREATE DATABASE checks; CREATE TABLE checks.up (x INT); INSERT INTO checks.up VALUES (1),(2); \
               CREATE TABLE checks.empty (x INT); CREATE USER 'lvsd'@'%' IDENTIFIED BY 'secret'; \
               GRANT SELECT ON checks.* TO 'lvsd'@'%';";
    must(
        "mariadb",
        &[
            "--no-defaults",
            "-uroot",
            &format!("--socket={sock}"),
            "-e",
            sql,
        ],
    );
    daemon
}

#[tokio::test]
async fn pgsql_against_postgresql() {
    let dir = tempdir("lvsd-pg");
    must("chmod", &["755", &dir.path().display().to_string()]);
    let port = free_port();
    let mut server = start_postgres(dir.path(), port);
    let p = Prober::new();
    let pg = |request: &str, c: Credentials| Service::Pgsql {
        exchange: exchange(request, ""),
        credentials: c,
    };
    let good = creds("lvsd", "secret", "postgres");
    let (o, _) = run(
        &p,
        &negotiate(loopback(port), pg("/SELECT 1", good.clone())),
    )
    .await;
    assert_up(&o, "pgsql SELECT 1");
    let (o, _) = run(
        &p,
        &negotiate(loopback(port), pg("/SELECT 1 WHERE false", good.clone())),
    )
    .await;
    assert_down(&o, "no rows", "pgsql no rows");
    let (o, _) = run(
        &p,
        &negotiate(loopback(port), pg("/SELECT * FROM missing", good.clone())),
    )
    .await;
    assert_down(&o, "missing", "pgsql bad query");
    let (o, _) = run(
        &p,
        &negotiate(
            loopback(port),
            pg("/SELECT 1", creds("lvsd", "wrong", "postgres")),
        ),
    )
    .await;
    assert_down(&o, "password", "pgsql wrong password");
    let (o, _) = run(
        &p,
        &negotiate(loopback(port), pg("/SELECT 1", creds("", "", "postgres"))),
    )
    .await;
    assert_down(&o, "login and a request are required", "pgsql no login");
    // Many rows: only the first matters, memory stays bounded.
    let (o, _) = run(
        &p,
        &negotiate(
            loopback(port),
            pg("/SELECT generate_series(1, 200000)", good.clone()),
        ),
    )
    .await;
    assert_up(&o, "pgsql many rows");
    let (o, took) = run(
        &p,
        &negotiate(loopback(port), pg("/SELECT pg_sleep(60)", good.clone())),
    )
    .await;
    assert_down(&o, "no answer within", "pgsql hung query");
    assert_within(took, T, "pgsql hung query");
    let (o, _) = run(&p, &negotiate(closed_port(), pg("/SELECT 1", good.clone()))).await;
    assert_down(&o, "refused", "pgsql closed port");
    server.stop();
    let (o, _) = run(&p, &negotiate(loopback(port), pg("/SELECT 1", good))).await;
    assert_down(&o, "", "postgres stopped");
}

#[tokio::test]
async fn mysql_against_mariadb() {
    let dir = tempdir("lvsd-maria");
    let port = free_port();
    let mut server = start_mariadb(dir.path(), port);
    let p = Prober::new();
    let my = |request: &str, c: Credentials| Service::Mysql {
        exchange: exchange(request, ""),
        credentials: c,
    };
    let good = creds("lvsd", "secret", "checks");
    let (o, _) = run(
        &p,
        &negotiate(loopback(port), my("/SELECT x FROM up", good.clone())),
    )
    .await;
    assert_up(&o, "mysql SELECT");
    let (o, _) = run(
        &p,
        &negotiate(loopback(port), my("/SELECT x FROM empty", good.clone())),
    )
    .await;
    assert_down(&o, "no rows", "mysql no rows");
    let (o, _) = run(
        &p,
        &negotiate(
            loopback(port),
            my("/SELECT x FROM up", creds("lvsd", "wrong", "checks")),
        ),
    )
    .await;
    assert_down(&o, "denied", "mysql wrong password");
    // A query that hangs: Down at the deadline (ldirectord had none here).
    let (o, took) = run(
        &p,
        &negotiate(loopback(port), my("/SELECT SLEEP(60)", good.clone())),
    )
    .await;
    assert_down(&o, "no answer within", "mysql hung query");
    assert_within(took, T, "mysql hung query");
    let (o, _) = run(&p, &negotiate(closed_port(), my("/SELECT 1", good.clone()))).await;
    assert_down(&o, "refused", "mysql closed port");
    server.stop();
    let (o, _) = run(&p, &negotiate(loopback(port), my("/SELECT 1", good))).await;
    assert_down(&o, "", "mariadb stopped");
}

fn start_slapd(dir: &Path, port: u16, tls_port: u16) -> Daemon {
    binary("/usr/sbin/slapd", "slapd");
    certificates(dir);
    let d = dir.display();
    std::fs::create_dir(dir.join("db")).unwrap();
    let conf = format!(
        "include /etc/ldap/schema/core.schema\npidfile {d}/slapd.pid\nmodulepath /usr/lib/ldap\n\
         moduleload back_mdb\nTLSCertificateFile {d}/srv.crt\nTLSCertificateKeyFile {d}/srv.key\n\
         database mdb\nmaxsize 10485760\nsuffix \"dc=example,dc=test\"\n\
         rootdn \"cn=admin,dc=example,dc=test\"\nrootpw secret\ndirectory {d}/db\n"
    );
    let conf = write(dir, "slapd.conf", &conf);
    let mut command = Command::new("/usr/sbin/slapd");
    command.args(["-d", "0", "-f", &conf.display().to_string()]);
    command.arg("-h").arg(format!(
        "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
    ));
    command.stderr(std::process::Stdio::null());
    let mut daemon = Daemon::spawn("slapd", &mut command);
    wait_listening(loopback(port), "slapd", Some(&mut daemon.child));
    wait_listening(loopback(tls_port), "slapd", Some(&mut daemon.child));
    let ldif = write(dir, "base.ldif", "dn: dc=example,dc=test\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n");
    let url = format!("ldap://127.0.0.1:{port}");
    must(
        "ldapadd",
        &[
            "-x",
            "-H",
            &url,
            "-D",
            "cn=admin,dc=example,dc=test",
            "-w",
            "secret",
            "-f",
            &ldif.display().to_string(),
        ],
    );
    daemon
}

#[tokio::test]
async fn ldap_and_ldaps_against_slapd() {
    let dir = tempdir("lvsd-slapd");
    let (port, tls_port) = (free_port(), free_port());
    let mut server = start_slapd(dir.path(), port, tls_port);
    let p = Prober::new();
    let ldap = |tls, request: &str, receive: &str, c: Credentials| Service::Ldap {
        tls,
        exchange: exchange(request, receive),
        credentials: c,
    };
    let admin = creds("cn=admin,dc=example,dc=test", "secret", "");
    let anon = Credentials::default();
    for (name, tls, port) in [("ldap", false, port), ("ldaps", true, tls_port)] {
        let a = loopback(port);
        let (o, _) = run(
            &p,
            &negotiate(a, ldap(tls, "/dc=example,dc=test", "", anon.clone())),
        )
        .await;
        assert_up(&o, &format!("{name} anonymous"));
        let (o, _) = run(
            &p,
            &negotiate(
                a,
                ldap(tls, "/dc=example,dc=test", "^dc=example", admin.clone()),
            ),
        )
        .await;
        assert_up(&o, &format!("{name} bound, DN matches"));
        let (o, _) = run(
            &p,
            &negotiate(a, ldap(tls, "/dc=example,dc=test", "^ou=", anon.clone())),
        )
        .await;
        assert_down(&o, "does not match", &format!("{name} wrong receive"));
        let (o, _) = run(
            &p,
            &negotiate(a, ldap(tls, "/dc=missing,dc=test", "", anon.clone())),
        )
        .await;
        assert_down(&o, "search", &format!("{name} missing base"));
        let wrong = creds("cn=admin,dc=example,dc=test", "wrong", "");
        let (o, _) = run(
            &p,
            &negotiate(a, ldap(tls, "/dc=example,dc=test", "", wrong)),
        )
        .await;
        assert_down(&o, "bind", &format!("{name} wrong password"));
        let (o, _) = run(
            &p,
            &negotiate(
                closed_port(),
                ldap(tls, "/dc=example,dc=test", "", anon.clone()),
            ),
        )
        .await;
        assert_down(&o, "", &format!("{name} closed port"));
    }
    // A SIGSTOPped slapd hung ldirectord's check forever (anchors §9.8).
    let pid = server.child.id().to_string();
    must("kill", &["-STOP", &pid]);
    // The stop is asynchronous: probe only once every thread has stopped.
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('T')
        })
        .unwrap_or(false)
    {
        assert!(t0.elapsed() < T, "slapd did not stop after SIGSTOP");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let ldap_probe = negotiate(
        loopback(port),
        ldap(false, "/dc=example,dc=test", "", anon.clone()),
    );
    let (o, took) = run(&p, &ldap_probe).await;
    assert_down(&o, "no answer within", "stopped (SIGSTOP) slapd");
    assert_within(took, T, "stopped (SIGSTOP) slapd");
    must("kill", &["-CONT", &pid]);
    server.stop();
    let (o, _) = run(&p, &ldap_probe).await;
    assert_down(&o, "", "slapd stopped");
}

#[tokio::test]
async fn hostile_database_and_directory_peers_end_down_within_the_deadline() {
    let p = std::sync::Arc::new(Prober::new());
    let c = creds("lvsd", "secret", "db");
    let services = [
        (
            "mysql",
            Service::Mysql {
                exchange: exchange("/SELECT 1", ""),
                credentials: c.clone(),
            },
        ),
        (
            "pgsql",
            Service::Pgsql {
                exchange: exchange("/SELECT 1", ""),
                credentials: c.clone(),
            },
        ),
        (
            "ldap",
            Service::Ldap {
                tls: false,
                exchange: exchange("/dc=x", ""),
                credentials: c.clone(),
            },
        ),
        (
            "ldaps",
            Service::Ldap {
                tls: true,
                exchange: exchange("/dc=x", ""),
                credentials: c,
            },
        ),
    ];
    let peers = [
        ("silent", hostile(Hostile::Silent).await),
        (
            "one byte a second",
            hostile(Hostile::Trickle(b"\x30\x84\x7f\xff")).await,
        ),
        (
            "endless",
            hostile(Hostile::Endless(b"\xff\xff\xff\x00")).await,
        ),
        ("garbage", hostile(Hostile::Garbage).await),
    ];
    let mut cases = Vec::new();
    for (name, service) in services {
        for (kind, addr) in peers {
            let what = format!("{name} against a {kind} peer");
            cases.push((what, negotiate(addr, service.clone())));
        }
    }
    assert_all_down_within(p.clone(), cases, T).await;
}
