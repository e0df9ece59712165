//! The smallest program exporting to Oculus: `cargo run -p minimal` with a collector up.

use tracing::{error, info, info_span, warn};

// A current-thread runtime on purpose: the guard flushes without hanging on one.
#[tokio::main(flavor = "current_thread")]
async fn main() {
    let _guard = oculus_tracing::init("minimal");
    let span = info_span!("greet", user = "ada");
    let _entered = span.enter();
    info!("hello from the minimal example");
    warn!(attempt = 2, "a warning inside the span");
    error!("an error, to see it stand out");
}
