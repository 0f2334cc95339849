//! Headless Chromium plays a pushed stream over WHEP with web/transport-webrtc.js.

use std::time::Duration;

use framecast::{Frame, StreamId};
use framecast_testkit::browser::{Browser, Page};
use framecast_testkit::server::{eventually, TestServer};
use serde_json::json;

const TRANSPORT: &str = include_str!("../../web/transport-webrtc.js");
const CONFIG: &str = "[[stream]]\nid = \"cam\"\nsource = \"push\"\n";

/// Load the transport into a same-origin page and start playing into a <video>.
async fn play(browser: &Browser, srv: &TestServer) -> Page {
    let page = browser.new_page(&srv.at("/healthz")).await.unwrap();
    // The module as a classic script: drop `export` so it can be evaluated inline.
    let script = format!("(() => {{ {} }})(); true", TRANSPORT.replace("export ", ""));
    page.eval(&script).await.expect("transport loads");
    page.eval(
        "(async () => {
            const v = document.createElement('video');
            document.body.appendChild(v);
            window.__meta = [];
            window.__video = v;
            window.__s = await window.FramecastWebRTC.start(v, 'cam', (m) => window.__meta.push(m));
            return true;
        })()",
    )
    .await
    .expect("WHEP session starts");
    page
}

async fn stats(page: &Page) -> serde_json::Value {
    page.eval("window.__s.stats()").await.unwrap()
}

#[tokio::test]
async fn chromium_plays_the_stream_over_whep_twice_at_once() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let srv = TestServer::start(CONFIG).await;
    let p = srv.hub.publisher(&StreamId::parse("cam").unwrap()).unwrap();
    let _pump = tokio::spawn(async move {
        for n in 0u64.. {
            let c = (n % 200) as u8;
            let f = Frame::solid(640, 360, [c, 90, 200 - c]).unwrap();
            if p.send_with_metadata(f, json!({"n": n})).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(33)).await;
        }
    });
    let a = play(&browser, &srv).await;
    let b = play(&browser, &srv).await;
    for page in [&a, &b] {
        let grew = page
            .wait_for(
                "window.__s.stats().then((s) => s.framesDecoded > 30)",
                Duration::from_secs(20),
            )
            .await;
        grew.unwrap_or_else(|e| panic!("{e:#}; js errors: {:?}", page.js_errors()));
        let s = stats(page).await;
        assert_eq!(
            (s["width"].as_u64(), s["height"].as_u64()),
            (Some(640), Some(360)),
            "{s}"
        );
        let size = page
            .eval("[window.__video.videoWidth, window.__video.videoHeight]")
            .await
            .unwrap();
        assert_eq!(size, json!([640, 360]));
        page.wait_for("window.__meta.length > 0", Duration::from_secs(10))
            .await
            .expect("metadata over the DataChannel");
        let m = page.eval("window.__meta[0]").await.unwrap();
        assert_eq!(m["type"], "metadata");
        eprintln!("chromium stats: {s}");
    }
    let viewers = || async {
        let v: serde_json::Value = reqwest::get(srv.at("/api/streams/cam"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["viewers"]["webrtc"].as_u64().unwrap()
    };
    assert_eq!(viewers().await, 2);
    // stop() DELETEs the session: the count follows.
    a.eval("window.__s.stop().then(() => true)").await.unwrap();
    assert!(eventually(Duration::from_secs(5), || async { viewers().await == 1 }).await);
    // The other viewer still plays.
    let before = stats(&b).await["framesDecoded"].as_u64().unwrap();
    b.wait_for(
        &format!(
            "window.__s.stats().then((s) => s.framesDecoded > {})",
            before + 15
        ),
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    srv.stop().await;
}
