//! The merged buffer is the wire format: write `results.as_bytes()` to a
//! file as it is, read the file back with `std::fs::read`, and
//! `Results::from_bytes` validates it and gives the same results. A buffer
//! that was cut short, or that holds a value its field type cannot hold, is
//! refused with an error that says what is wrong.
//!
//! Run it with `cargo run --example raw_buffer`.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use parallelizer::prelude::*;

/// A sensor reading per task id: its id, a value, a flag and a label.
#[task(packet = (u32, f64, bool, FixedStr<8>))]
pub struct Reading;

#[worker(Reading)]
fn reading(task_id: usize) -> (u32, f64, bool, FixedStr<8>) {
    let label = if task_id % 2 == 0 { "even" } else { "odd" };
    (
        task_id as u32,
        (task_id as f64).sqrt(),
        task_id % 3 == 0,
        FixedStr::new(label).expect("both labels fit 8 bytes"),
    )
}

/// A file in the temporary directory that is removed when dropped, so it
/// goes even if the example fails half-way.
struct TempFile(PathBuf);

impl TempFile {
    /// Creates a new file with a name no other run uses, and writes `bytes`.
    fn create(bytes: &[u8]) -> std::io::Result<Self> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let name = format!("parallelizer-raw-buffer-{}-{nanos}.bin", std::process::id());
        let path = std::env::temp_dir().join(name);
        // `create_new` fails rather than overwrite a file that already exists.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let temp = TempFile(path);
        file.write_all(bytes)?;
        Ok(temp)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let coordinator = Coordinator::new(64);
    let results = coordinator.dispatch(Reading, 1000, 16)?;

    // Write the buffer as it is: no serialization step.
    let file = TempFile::create(results.as_bytes())?;
    let bytes = fs::read(file.path())?;
    println!(
        "wrote {} results of {} bytes: {} bytes to {}",
        results.len(),
        Reading::PACKET_SIZE,
        bytes.len(),
        file.path().display()
    );
    assert_eq!(bytes.len(), 1000 * Reading::PACKET_SIZE);
    assert_eq!(bytes, results.as_bytes());

    // Read it back: every packet is validated once, up front.
    let back = Results::<Reading>::from_bytes(bytes)?;
    assert_eq!(back, results);
    assert_eq!(back.get(81), Some((81, 9.0, true, FixedStr::new("odd")?)));
    let (id, value, flag, label) = back.get(999).expect("1000 results");
    println!(
        "read back {} results; task 999: ({id}, {value:.3}, {flag}, {label:?})",
        back.len()
    );

    // A buffer cut short is not a whole number of packets.
    let mut truncated = fs::read(file.path())?;
    let len = truncated.len() - 5;
    truncated.truncate(len);
    let error = Results::<Reading>::from_bytes(truncated).expect_err("a truncated buffer");
    println!("truncated to {len} bytes: {error}");
    assert_eq!(
        error,
        Error::BufferLength {
            task: "Reading",
            len: 24_995,
            packet_size: 25
        }
    );

    // A flipped byte where a bool lives is caught too, and located.
    let mut corrupt = fs::read(file.path())?;
    corrupt[7 * Reading::PACKET_SIZE + 12] = 0x7F; // packet 7, field 2: the bool
    let error = Results::<Reading>::from_bytes(corrupt).expect_err("a corrupt bool");
    println!("one corrupt byte: {error}");
    assert!(matches!(
        error,
        Error::InvalidPacket {
            index: 7,
            field: 2,
            ..
        }
    ));

    let path = file.path().to_path_buf();
    drop(file);
    assert!(!path.exists(), "the temporary file is removed");
    println!("removed {}", path.display());
    Ok(())
}
