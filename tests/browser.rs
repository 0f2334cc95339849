//! End-to-end tests of the pages in a real headless Chromium.

mod common;

use std::time::Duration;

use common::browser::Browser;

/// The harness itself: a page from a data: URL, eval, wait_for, an exception, a screenshot.
#[tokio::test]
async fn harness_evaluates_waits_and_screenshots() {
    let Some(browser) = Browser::launch(&[]).await else {
        return;
    };
    let page = browser
        .new_page("data:text/html,<title>t</title><canvas id=c width=4 height=4></canvas><script>setTimeout(()=>{window.ready=true},100)</script>")
        .await
        .expect("open page");
    assert_eq!(page.eval("1 + 2").await.unwrap(), 3);
    assert_eq!(page.eval("Promise.resolve('p')").await.unwrap(), "p");
    page.wait_for("window.ready === true", Duration::from_secs(5))
        .await
        .expect("ready");
    let err = page.eval("throw new Error('boom')").await.unwrap_err();
    assert!(format!("{err:#}").contains("boom"), "{err:#}");
    assert!(page
        .wait_for("false", Duration::from_millis(200))
        .await
        .is_err());
    page.eval("setTimeout(() => { throw new Error('late') }, 0); 1")
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !page.js_errors().iter().any(|e| e.contains("late")) {
        assert!(std::time::Instant::now() < deadline, "{:?}", page.js_errors());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let png = page.screenshot().await.expect("screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    page.close().await.expect("close");
}
