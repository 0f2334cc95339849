//! Headless Chromium plays `/streams/{id}/hls/index.m3u8` with
//! web/transport-hls.js: natively when the browser says it can, and with
//! the MSE (LL-HLS) player.

use std::time::Duration;

use framecast_testkit::browser::{Browser, Page};
use framecast_testkit::server::TestServer;
use serde_json::json;

const TRANSPORT: &str = include_str!("../../web/transport-hls.js");
const CONFIG: &str = "[[stream]]\nid = \"p\"\nsource = \"pattern\"\n[stream.pattern]\nwidth = 320\nheight = 240\nfps = 30\n";

/// `opts` is the JS options object for `FramecastHLS.start`.
async fn play(browser: &Browser, srv: &TestServer, opts: &str) -> Page {
    let page = browser.new_page(&srv.at("/healthz")).await.unwrap();
    page.eval(&format!("{TRANSPORT}; true"))
        .await
        .expect("transport loads");
    page.eval(&format!(
        "(() => {{
            const v = document.createElement('video');
            document.body.appendChild(v);
            window.__video = v;
            window.__s = window.FramecastHLS.start(v, 'p', {opts});
            return window.__s.mode;
        }})()"
    ))
    .await
    .expect("player starts");
    page
}

/// currentTime advances by `secs` and the picture has the stream's size.
async fn assert_plays(page: &Page, what: &str) {
    let ok = page
        .wait_for(
            "window.__video.currentTime > 1.0 && window.__video.videoWidth > 0",
            Duration::from_secs(25),
        )
        .await;
    if let Err(e) = ok {
        let state = page
            .eval(
                "(() => { const v = window.__video; return { t: v.currentTime, ready: v.readyState, \
                 net: v.networkState, err: v.error && [v.error.code, v.error.message] }; })()",
            )
            .await;
        panic!(
            "{what}: {e:#}; video {state:?}; js errors: {:?}",
            page.js_errors()
        );
    }
    let t0 = page.eval("window.__video.currentTime").await.unwrap();
    let t0 = t0.as_f64().unwrap();
    page.wait_for(
        &format!("window.__video.currentTime > {} + 1.0", t0),
        Duration::from_secs(10),
    )
    .await
    .unwrap_or_else(|e| panic!("{what}: currentTime stopped at {t0}: {e:#}"));
    let size = page
        .eval("[window.__video.videoWidth, window.__video.videoHeight]")
        .await
        .unwrap();
    assert_eq!(size, json!([320, 240]), "{what}");
}

#[tokio::test]
async fn chromium_plays_the_hls_stream_with_mse_and_natively_when_it_can() {
    let Some(browser) = Browser::launch(&["--autoplay-policy=no-user-gesture-required"]).await
    else {
        return;
    };
    let srv = TestServer::start(CONFIG).await;
    let mse = play(&browser, &srv, "{ mse: true }").await;
    assert_eq!(mse.eval("window.__s.mode").await.unwrap(), json!("mse"));
    assert_plays(&mse, "MSE player").await;
    let native = mse
        .eval("window.FramecastHLS.native(window.__video)")
        .await
        .unwrap();
    if native == json!(true) {
        let page = play(&browser, &srv, "{}").await;
        assert_eq!(page.eval("window.__s.mode").await.unwrap(), json!("native"));
        assert_plays(&page, "native HLS").await;
    } else {
        eprintln!("note: the transport does not pick this Chromium's native HLS by default");
    }
    // Native first where the browser claims it: plays, natively or after
    // falling back to MSE when the built-in player errors.
    let can = mse
        .eval("window.__video.canPlayType('application/vnd.apple.mpegurl')")
        .await
        .unwrap();
    if can != json!("") {
        let page = play(&browser, &srv, "{ native: true }").await;
        assert_plays(&page, "native, else MSE").await;
        let mode = page.eval("window.__s.mode").await.unwrap();
        eprintln!("native-first player ended up as {mode}");
    }
    let status: serde_json::Value = reqwest::get(srv.at("/api/streams/p"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(status["viewers"]["hls"].as_u64() >= Some(1), "{status}");
    srv.stop().await;
}
