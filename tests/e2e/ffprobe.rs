//! ffprobe, a real player's demuxer, reads the MJPEG output.

use std::process::Stdio;
use std::time::Duration;

use framecast_testkit::server::{have_tool, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffprobe_reads_demo_mjpeg_as_1280x720_mjpeg() {
    if !have_tool("ffprobe") {
        return;
    }
    let srv = TestServer::start("[[stream]]\nid = \"demo\"\nsource = \"pattern\"\n").await;
    let url = srv.at("/streams/demo/mjpeg");
    let child = tokio::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "json",
            &url,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("ffprobe finished")
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "ffprobe failed: {stderr}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v["streams"][0];
    assert_eq!(s["codec_name"], "mjpeg", "{v}");
    assert_eq!(
        (s["width"].as_u64(), s["height"].as_u64()),
        (Some(1280), Some(720)),
        "{v}"
    );
}
