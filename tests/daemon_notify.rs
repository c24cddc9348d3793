//! The systemd notification messages lvsd sends, read from a real datagram
//! socket standing in for systemd's. One test per binary: it sets
//! NOTIFY_SOCKET for the whole process.

use std::os::unix::net::UnixDatagram;

#[test]
fn ready_reloading_stopping_reach_the_notify_socket() {
    let dir = std::env::temp_dir().join(format!("lvsd-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify.sock");
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    std::env::set_var("NOTIFY_SOCKET", &path);

    let mut buf = [0u8; 512];
    let mut recv = || {
        let n = sock.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };

    lvsd::daemon::notify::ready("3 virtual services programmed");
    assert_eq!(recv(), "READY=1\nSTATUS=3 virtual services programmed\n");

    lvsd::daemon::notify::reloading();
    let msg = recv();
    assert!(msg.starts_with("RELOADING=1\nMONOTONIC_USEC="), "{msg}");

    lvsd::daemon::notify::stopping();
    assert_eq!(recv(), "STOPPING=1\nSTATUS=stopping\n");

    std::env::remove_var("NOTIFY_SOCKET");
    lvsd::daemon::notify::watchdog();
    sock.set_nonblocking(true).unwrap();
    assert!(
        sock.recv(&mut buf).is_err(),
        "nothing is sent without NOTIFY_SOCKET"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
