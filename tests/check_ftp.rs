//! service=ftp against a real vsftpd on loopback: anonymous download matched
//! against receive, wrong receive, missing file, wrong credentials, closed
//! port, server stopped. (Hostile FTP peers are in check_mail.rs.)

mod check_support;

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use check_support::*;
use lvsd::check::spec::{Exchange, Receive};
use lvsd::check::{CheckKind, Probe, Prober, Service};

const T: Duration = Duration::from_secs(5);

fn ftp(addr: SocketAddr, request: &str, receive: &str, login: &str, password: &str) -> Probe {
    let receive = (!receive.is_empty()).then(|| Receive::new(receive).unwrap());
    let exchange = Exchange {
        request: request.into(),
        receive,
    };
    let credentials = creds(login, password, "");
    probe(
        addr,
        CheckKind::Negotiate(Service::Ftp {
            exchange,
            credentials,
        }),
        T,
    )
}

#[tokio::test]
async fn ftp_against_vsftpd() {
    let vsftpd = binary("/usr/sbin/vsftpd", "vsftpd");
    let dir = tempdir("lvsd-vsftpd");
    let root = dir.path().join("anon");
    std::fs::create_dir(&root).unwrap();
    write(&root, "check.txt", "ftp ok\n");
    let d = dir.path().display().to_string();
    // The anonymous session runs as user ftp: let it read the files.
    must("chmod", &["755", &d, &root.display().to_string()]);
    must(
        "chmod",
        &["644", &root.join("check.txt").display().to_string()],
    );
    std::fs::create_dir_all("/var/run/vsftpd/empty").unwrap();
    let port = free_port();
    let conf = format!(
        "listen=YES\nlisten_ipv6=NO\nlisten_address=127.0.0.1\nlisten_port={port}\nbackground=NO\n\
         anonymous_enable=YES\nanon_root={}\nno_anon_password=YES\nlocal_enable=YES\nwrite_enable=NO\n\
         pam_service_name=vsftpd\nsecure_chroot_dir=/var/run/vsftpd/empty\nseccomp_sandbox=NO\n\
         pasv_enable=YES\nxferlog_enable=NO\nvsftpd_log_file={d}/vsftpd.log\n",
        root.display()
    );
    let conf_path = write(dir.path(), "vsftpd.conf", &conf);
    let mut command = Command::new(vsftpd);
    command.arg(&conf_path);
    let mut daemon = Daemon::spawn("vsftpd", &mut command);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    wait_listening(addr, "vsftpd", Some(&mut daemon.child));

    let p = Prober::new();
    let (o, _) = run(&p, &ftp(addr, "/check.txt", "^ftp ok$", "", "")).await;
    assert_up(&o, "anonymous RETR");
    let (o, _) = run(
        &p,
        &ftp(addr, "/check.txt", "(?<=ftp )ok", "anonymous", "x@"),
    )
    .await;
    assert_up(&o, "explicit anonymous login, lookbehind receive");
    let (o, _) = run(&p, &ftp(addr, "/check.txt", "nope", "", "")).await;
    assert_down(&o, "do not match", "wrong receive");
    let (o, _) = run(&p, &ftp(addr, "/missing.txt", "", "", "")).await;
    assert_down(&o, "RETR", "missing file");
    let (o, took) = run(&p, &ftp(addr, "/check.txt", "", "nosuchuser", "wrong")).await;
    assert_down(&o, "login", "wrong credentials");
    assert_within(took, T, "wrong credentials");
    let (o, _) = run(&p, &ftp(closed_port(), "/check.txt", "", "", "")).await;
    assert_down(&o, "refused", "closed port");
    daemon.stop();
    let (o, _) = run(&p, &ftp(addr, "/check.txt", "", "", "")).await;
    assert_down(&o, "refused", "vsftpd stopped");
}
