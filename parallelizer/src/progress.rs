//! The terminal progress bar of the `progress` feature.

use std::fmt::Write;

use indicatif::{ProgressBar, ProgressState, ProgressStyle};

/// A bar for `total` task ids of `task`: count, rate and time left. It draws
/// on standard error, and only when that is a terminal.
pub(crate) fn bar(task: &'static str, total: usize) -> ProgressBar {
    let bar = ProgressBar::new(total as u64);
    let style = ProgressStyle::with_template(
        "{msg} [{wide_bar}] {human_pos}/{human_len} tasks, {rate}, {eta} left",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .with_key("rate", |state: &ProgressState, out: &mut dyn Write| {
        let _ = write_rate(state.per_sec(), out);
    });
    bar.set_style(style.progress_chars("=> "));
    bar.set_message(task);
    bar
}

/// Tasks per second, rounded to what a reader takes in at a glance.
fn write_rate(per_sec: f64, out: &mut dyn Write) -> std::fmt::Result {
    match per_sec {
        rate if rate >= 1e9 => write!(out, "{:.1}G tasks/s", rate / 1e9),
        rate if rate >= 1e6 => write!(out, "{:.1}M tasks/s", rate / 1e6),
        rate if rate >= 1e3 => write!(out, "{:.1}k tasks/s", rate / 1e3),
        rate => write!(out, "{rate:.0} tasks/s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_at_a_glance() {
        let rate = |per_sec| {
            let mut out = String::new();
            write_rate(per_sec, &mut out).unwrap();
            out
        };
        assert_eq!(rate(10_093_422.548), "10.1M tasks/s");
        assert_eq!(rate(2_500.0), "2.5k tasks/s");
        assert_eq!(rate(12.4), "12 tasks/s");
        assert_eq!(rate(3.2e9), "3.2G tasks/s");
    }
}
