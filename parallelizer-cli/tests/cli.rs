//! The `parallelizer` binary run on results files written here by real
//! tasks: what `inspect`, `head` and `convert` print and write, and the one
//! line each error is.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

// The root package's test helpers: the issue's `Biome` and `Cell`, and the
// byte-by-byte file builder.
#[path = "../../tests/common/mod.rs"]
mod common;
#[path = "../../tests/crafted/mod.rs"]
mod crafted;
use common::{Biome, Cell};
use crafted::{crafted, node, TAG_BOOL, TAG_ENUM, TAG_RAW, TAG_STR, TAG_STRUCT, TAG_U32, TAG_U8};

use parallelizer::persist::FormatVersion;
use parallelizer::prelude::*;

/// A tuple packet of strings, a `bool` and bytes.
#[task(packet = (u16, FixedStr<11>, bool, FixedBytes<4>))]
pub struct Greet;

const NAMES: [&str; 5] = ["plain", "a,b", "say \"hi\"", "two\nlines", "ünï"];

#[worker(Greet)]
fn greet(task_id: usize) -> (u16, FixedStr<11>, bool, FixedBytes<4>) {
    (
        (task_id * 300) as u16,
        FixedStr::new(NAMES[task_id % NAMES.len()]).unwrap(),
        task_id % 2 == 0,
        FixedBytes::new(&[0xab; 4][..task_id % 5]).unwrap(),
    )
}

#[task(packet = Cell, args = f32)]
pub struct Terrain;

#[worker(Terrain)]
fn terrain(task_id: usize, scale: &f32) -> Cell {
    let biomes = [Biome::Ocean, Biome::Plains, Biome::Forest, Biome::Mountain];
    Cell {
        height: task_id as f32 * scale,
        normal: Vec3::new(0.0, task_id as f64 / 4.0, 1.0),
        biome: biomes[task_id % 4],
        name: FixedStr::new(&format!("cell {}", task_id % 1000)).unwrap(),
        color: Color3::new((task_id % 2) as f32, 0.5, 1.0),
        wet: task_id % 3 == 0,
    }
}

/// A fresh directory for one test.
fn dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("parallelizer-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn greet_file(dir: &Path) -> (PathBuf, Results<Greet>) {
    let results = Coordinator::new(2).dispatch(Greet, 6, 4).unwrap();
    let path = dir.join("greet.prlz");
    results
        .write_to(std::fs::File::create(&path).unwrap())
        .unwrap();
    (path, results)
}

fn cells_file(dir: &Path) -> (PathBuf, Results<Terrain>) {
    let results = Coordinator::new(2)
        .dispatch_with(Terrain, 4, 2, 0.5)
        .unwrap();
    let path = dir.join("cells.prlz");
    results
        .write_to(std::fs::File::create(&path).unwrap())
        .unwrap();
    (path, results)
}

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_parallelizer"))
        .args(args.iter().map(|arg| arg.as_ref()))
        .output()
        .unwrap()
}

/// The standard output of a run that must succeed.
fn stdout(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let output = run(args);
    assert!(
        output.status.success(),
        "{:?}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
    String::from_utf8(output.stdout).unwrap()
}

/// The one line of standard error of a run that must fail with `code`.
fn failure(args: &[&dyn AsRef<std::ffi::OsStr>], code: i32) -> String {
    let output = run(args);
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    stderr.trim_end().to_string()
}

#[test]
fn inspect_prints_the_schema_tree_count_chunks_and_checksums() {
    let dir = dir("inspect");
    let (path, _) = cells_file(&dir);
    let text = stdout(&[&"inspect", &path]);
    let expected = format!(
        "\
file:            {}
format version:  2
packets:         4 of 45 bytes
chunks:          1 chunk
checksums:       verified (the header, 1 chunk and the trailer)
fingerprint:     {:#018x}
job:             none recorded
schema:
offset  size  field
     0     4  height: f32
     4    24  normal: struct
     4     8    x: f64
    12     8    y: f64
    20     8    z: f64
    28     1  biome: enum u8 (Ocean = 0, Plains = 1, Forest = 2, Mountain = 7)
    29    12  name: string<8>
    29     4    len: u32
    33     8    bytes: [u8; 8]
    41     3  color: struct
    41     1    r: u8
    42     1    g: u8
    43     1    b: u8
    44     1  wet: bool
",
        path.display(),
        Terrain::schema().fingerprint()
    );
    assert_eq!(text, expected);
}

#[test]
fn inspect_shows_the_job_that_run_to_file_records() {
    let dir = dir("job");
    let path = dir.join("job.prlz");
    Coordinator::new(2)
        .run_to_file_with(Terrain, 300_000, 1000, 2.0, &path)
        .unwrap();
    let text = stdout(&[&"inspect", &path]);
    // 300 000 packets of 45 bytes: 12 chunks of 1 MiB (23 301 packets
    // each) and a last one.
    assert!(
        text.contains("packets:         300000 of 45 bytes\n"),
        "{text}"
    );
    assert!(text.contains("chunks:          13 chunks\n"), "{text}");
    // 2.0f32 is 0x40000000, little-endian.
    assert!(
        text.contains(
            "job:             300000 task ids in batches of 1000, args 4 bytes: 00000040\n"
        ),
        "{text}"
    );
}

#[test]
fn head_prints_a_table_of_decoded_rows() {
    let dir = dir("head");
    let (path, _) = cells_file(&dir);
    let text = stdout(&[&"head", &path]);
    assert_eq!(
        text,
        "\
#  height  normal.x  normal.y  normal.z  biome     name    color.r  color.g  color.b  wet
0     0.0       0.0       0.0       1.0  Ocean     cell 0        0      127      255  true
1     0.5       0.0      0.25       1.0  Plains    cell 1      255      127      255  false
2     1.0       0.0       0.5       1.0  Forest    cell 2        0      127      255  false
3     1.5       0.0      0.75       1.0  Mountain  cell 3      255      127      255  true
"
    );
    let text = stdout(&[&"head", &path, &"-n", &"2"]);
    assert_eq!(text.lines().count(), 3, "{text}");

    let (path, _) = greet_file(&dir);
    let text = stdout(&[&"head", &path, &"-n", &"5"]);
    assert_eq!(
        text,
        "\
#     0  1           2      3
0     0  plain       true
1   300  a,b         false  ab
2   600  say \"hi\"    true   abab
3   900  two\\nlines  false  ababab
4  1200  ünï         true   abababab
"
    );
}

#[test]
fn convert_to_csv_quotes_as_rfc_4180_says() {
    let dir = dir("csv");
    let (path, _) = greet_file(&dir);
    let out = dir.join("greet.csv");
    assert_eq!(stdout(&[&"convert", &path, &"--to", &"csv", &out]), "");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        csv,
        "0,1,2,3\r\n\
         0,plain,true,\r\n\
         300,\"a,b\",false,ab\r\n\
         600,\"say \"\"hi\"\"\",true,abab\r\n\
         900,\"two\nlines\",false,ababab\r\n\
         1200,ünï,true,abababab\r\n\
         1500,plain,false,\r\n"
    );

    let (path, _) = cells_file(&dir);
    let csv = stdout(&[&"convert", &path, &"--to", &"csv", &"-"]);
    assert_eq!(
        csv,
        "height,normal.x,normal.y,normal.z,biome,name,color.r,color.g,color.b,wet\r\n\
         0.0,0.0,0.0,1.0,Ocean,cell 0,0,127,255,true\r\n\
         0.5,0.0,0.25,1.0,Plains,cell 1,255,127,255,false\r\n\
         1.0,0.0,0.5,1.0,Forest,cell 2,0,127,255,false\r\n\
         1.5,0.0,0.75,1.0,Mountain,cell 3,255,127,255,true\r\n"
    );
}

#[test]
fn convert_to_npy_writes_what_write_npy_writes() {
    let dir = dir("npy");
    let (path, results) = cells_file(&dir);
    let out = dir.join("cells.npy");
    stdout(&[&"convert", &path, &"--to", &"npy", &out]);
    let mut expected = Vec::new();
    results.write_npy(&mut expected).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), expected);

    let (path, results) = greet_file(&dir);
    stdout(&[&"convert", &path, &"--to", &"npy", &out]);
    let mut expected = Vec::new();
    results.write_npy(&mut expected).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), expected);
}

#[test]
fn convert_to_arrow_writes_the_columns_of_the_typed_export() {
    use parallelizer::arrow::arrow_ipc::reader::FileReader;

    let dir = dir("arrow");
    for (path, expected) in [
        {
            let (path, results) = greet_file(&dir);
            (path, results.to_record_batch().unwrap())
        },
        {
            let (path, results) = cells_file(&dir);
            (path, results.to_record_batch().unwrap())
        },
    ] {
        let out = path.with_extension("arrow");
        stdout(&[&"convert", &path, &"--to", &"arrow", &out]);
        let mut reader = FileReader::try_new(std::fs::File::open(&out).unwrap(), None).unwrap();
        let batch = reader.next().unwrap().unwrap();
        assert!(reader.next().is_none());
        // The same columns, named and typed alike, as the typed export's:
        // only the task name in the metadata differs (a file stores none).
        assert_eq!(batch.columns(), expected.columns(), "{}", path.display());
        let fields = |batch: &parallelizer::arrow::arrow_array::RecordBatch| {
            batch.schema().fields().iter().cloned().collect::<Vec<_>>()
        };
        assert_eq!(fields(&batch), fields(&expected));
    }
}

#[test]
fn a_missing_file_is_one_line() {
    let dir = dir("missing");
    let path = dir.join("nothing.prlz");
    let error = failure(&[&"inspect", &path], 1);
    assert_eq!(
        error,
        format!(
            "error: {}: cannot open: No such file or directory (os error 2)",
            path.display()
        )
    );
}

#[test]
fn a_corrupt_byte_is_one_line_naming_the_chunk() {
    let dir = dir("corrupt");
    let (path, _) = cells_file(&dir);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.len() - 24 - 4 - 10; // in the last packet
    bytes[at] ^= 0x10;
    std::fs::write(&path, &bytes).unwrap();
    for command in ["inspect", "head"] {
        let error = failure(&[&command, &path], 1);
        assert!(
            error.starts_with(&format!(
                "error: {}: the results file of task `?` is corrupt: chunk 0, at byte ",
                path.display()
            )),
            "{error}"
        );
        assert!(error.contains("fails its checksum"), "{error}");
    }
}

#[test]
fn a_truncated_file_is_one_line() {
    let dir = dir("truncated");
    let (path, _) = cells_file(&dir);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 30]).unwrap();
    let error = failure(&[&"head", &path], 1);
    assert!(
        error.contains("ends inside chunk 0") && error.contains("truncated"),
        "{error}"
    );
}

#[test]
fn a_version_1_file_is_refused_saying_how_to_convert_it() {
    let dir = dir("v1");
    let results = Coordinator::new(2).dispatch(Greet, 3, 2).unwrap();
    let path = dir.join("old.prlz");
    results
        .write_to_format(std::fs::File::create(&path).unwrap(), FormatVersion::V1)
        .unwrap();
    let error = failure(&[&"inspect", &path], 1);
    assert!(
        error.contains("format version 1, which does not store its schema"),
        "{error}"
    );
    assert!(error.contains("write it again"), "{error}");
}

#[test]
fn usage_errors_are_one_line_with_status_2() {
    let error = failure(&[], 2);
    assert_eq!(
        error,
        "error: no command given: use `inspect`, `head` or `convert` (see `parallelizer --help`)"
    );
    let error = failure(&[&"frobnicate"], 2);
    assert!(
        error.contains("unrecognized subcommand 'frobnicate'"),
        "{error}"
    );
    let error = failure(&[&"convert", &"x.prlz", &"--to", &"xlsx", &"out"], 2);
    assert!(error.contains("invalid value 'xlsx'"), "{error}");
    assert!(error.contains("csv, npy, arrow"), "{error}");
    let error = failure(&[&"head", &"x.prlz", &"-n", &"many"], 2);
    assert!(error.contains("invalid value 'many'"), "{error}");
    let error = failure(&[&"convert", &"x.prlz", &"--to", &"csv"], 2);
    assert!(error.contains("<OUT>"), "{error}");
}

#[test]
fn help_lists_the_commands() {
    let text = stdout(&[&"--help"]);
    for command in ["inspect", "head", "convert"] {
        assert!(text.contains(command), "{text}");
    }
    let text = stdout(&[&"convert", &"--help"]);
    assert!(text.contains("--to <FORMAT>"), "{text}");
}

/// A string slot of capacity 3 named `name`.
fn str3(name: &str) -> Vec<u8> {
    node(
        name,
        TAG_STR,
        7,
        &3u64.to_le_bytes(),
        &[
            node("len", TAG_U32, 4, &[], &[]),
            node("bytes", TAG_RAW, 3, &[], &[]),
        ],
    )
}

#[test]
fn an_invalid_value_fails_every_conversion_alike() {
    let dir = dir("invalid");
    // Packets of a `bool` and a string of at most 3 bytes; packet 1 holds
    // the bool byte 2, or the string length 4.
    let fields = [node("ok", TAG_BOOL, 1, &[], &[]), str3("s")];
    let good = [1, 2, 0, 0, 0, b'h', b'i', 0];
    for (bad, column, reason) in [
        (
            [2, 0, 0, 0, 0, 0, 0, 0],
            "ok",
            "field `ok`: a bool must be 0 or 1, found 2",
        ),
        ([0, 4, 0, 0, 0, b'a', b'b', b'c'], "s", "field `s`: "),
    ] {
        let mut packets = good.to_vec();
        packets.extend_from_slice(&bad);
        let path = dir.join("invalid.prlz");
        std::fs::write(&path, crafted(&fields, 8, &packets)).unwrap();
        let mut errors = Vec::new();
        for to in ["csv", "npy", "arrow"] {
            let out = dir.join(format!("out.{to}"));
            let error = failure(&[&"convert", &path, &"--to", &to, &out], 1);
            let expected = format!(
                "error: {}: packet 1, column `{column}`: {reason}",
                path.display()
            );
            assert!(error.starts_with(&expected), "{to}: {error}");
            assert!(!out.exists(), "{to}: a partial output is left");
            errors.push(error);
        }
        assert!(
            errors.iter().all(|error| *error == errors[0]),
            "{errors:#?}"
        );
    }
}

#[test]
fn names_with_control_characters_are_escaped() {
    let dir = dir("names");
    let mut variants = 1u64.to_le_bytes().to_vec();
    variants.extend_from_slice(&2u64.to_le_bytes());
    variants.extend_from_slice(b"V\x07");
    variants.extend_from_slice(&0u64.to_le_bytes());
    let fields = [
        node("a\x1b[31m", TAG_U8, 1, &[], &[]),
        node(
            "s\nt",
            TAG_STRUCT,
            1,
            &[],
            &[node("x\ty", TAG_U8, 1, &[], &[])],
        ),
        node("e", TAG_ENUM, 1, &variants, &[]),
    ];
    let path = dir.join("names.prlz");
    std::fs::write(&path, crafted(&fields, 3, &[1, 2, 0])).unwrap();
    let controls = |text: &str| text.chars().any(|c| c.is_control() && c != '\n');

    let text = stdout(&[&"head", &path]);
    assert!(!controls(&text), "{text:?}");
    assert_eq!(
        text,
        "#  a\\u{1b}[31m  s\\nt.x\\ty  e\n0            1          2  V\\u{7}\n"
    );

    let text = stdout(&[&"inspect", &path]);
    assert!(!controls(&text), "{text:?}");
    assert!(
        text.ends_with(
            "\
schema:
offset  size  field
     0     1  a\\u{1b}[31m: u8
     1     1  s\\nt: struct
     1     1    x\\ty: u8
     2     1  e: enum u8 (V\\u{7} = 0)
"
        ),
        "{text}"
    );
}

/// The names of the files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn convert_never_harms_its_input_and_replaces_out_only_when_whole() {
    let dir = dir("replace");
    let (path, _) = greet_file(&dir);
    let original = std::fs::read(&path).unwrap();

    // OUT that is FILE, however spelled: refused, FILE untouched.
    let other_spelling = dir.join(".").join("greet.prlz");
    for out in [&path, &other_spelling] {
        let error = failure(&[&"convert", &path, &"--to", &"csv", out], 1);
        assert_eq!(
            error,
            format!(
                "error: {}: is the file being converted: write the output to another file",
                out.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), original);
    }

    // A failed conversion leaves an existing OUT as it was, and no
    // temporary file.
    let invalid = dir.join("invalid.prlz");
    std::fs::write(
        &invalid,
        crafted(&[node("ok", TAG_BOOL, 1, &[], &[])], 1, &[0, 2]),
    )
    .unwrap();
    let out = dir.join("out.csv");
    std::fs::write(&out, "kept").unwrap();
    for to in ["csv", "npy", "arrow"] {
        failure(&[&"convert", &invalid, &"--to", &to, &out], 1);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "kept", "{to}");
    }
    assert_eq!(listing(&dir), ["greet.prlz", "invalid.prlz", "out.csv"]);

    // A whole conversion replaces OUT, even when OUT is another name (a
    // hard link) of FILE: the name is replaced, FILE's bytes are not.
    stdout(&[&"convert", &path, &"--to", &"csv", &out]);
    assert!(std::fs::read_to_string(&out)
        .unwrap()
        .starts_with("0,1,2,3\r\n"));
    let link = dir.join("link.prlz");
    std::fs::hard_link(&path, &link).unwrap();
    stdout(&[&"convert", &path, &"--to", &"csv", &link]);
    assert_eq!(std::fs::read(&path).unwrap(), original);
    assert_eq!(std::fs::read(&link).unwrap(), std::fs::read(&out).unwrap());
    assert_eq!(
        listing(&dir),
        ["greet.prlz", "invalid.prlz", "link.prlz", "out.csv"]
    );
}

#[test]
#[cfg(unix)]
fn convert_writes_special_files_in_place_and_follows_links() {
    use std::os::unix::fs::PermissionsExt;

    let dir = dir("special");
    let (path, _) = greet_file(&dir);
    // `/dev/null` is written in place, not replaced by a regular file.
    stdout(&[&"convert", &path, &"--to", &"csv", &"/dev/null"]);
    let null = std::fs::metadata("/dev/null").unwrap();
    assert!(!null.is_file(), "/dev/null is still a device");

    // A link to a regular file: the file it names is replaced, the link
    // stays a link, and the file keeps its permissions.
    let target = dir.join("target.csv");
    std::fs::write(&target, "old").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o640)).unwrap();
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    stdout(&[&"convert", &path, &"--to", &"csv", &link]);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(std::fs::read_to_string(&target)
        .unwrap()
        .starts_with("0,1,2,3\r\n"));
    let mode = std::fs::metadata(&target).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
    assert_eq!(listing(&dir), ["greet.prlz", "link.csv", "target.csv"]);
}

#[test]
fn head_reads_only_the_chunks_it_prints_and_inspect_and_csv_read_them_all() {
    let dir = dir("stream");
    // 100 000 packets of 24 bytes: chunks of 43 690 packets, 3 chunks.
    let results = Coordinator::new(2).dispatch(Greet, 100_000, 5000).unwrap();
    let path = dir.join("big.prlz");
    let mut bytes = Vec::new();
    results.write_to(&mut bytes).unwrap();
    // A byte of the last chunk's last packet corrupted.
    let at = bytes.len() - 24 - 4 - 5;
    bytes[at] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();

    // `head` reads chunk 0 only: it prints, not knowing chunk 2 is corrupt.
    let text = stdout(&[&"head", &path, &"-n", &"3"]);
    assert_eq!(text.lines().count(), 4, "{text}");
    assert!(
        text.ends_with("2  600  say \"hi\"  true   abab\n"),
        "{text}"
    );
    let text = stdout(&[&"head", &path, &"-n", &"0"]);
    assert_eq!(text, "#  0  1  2  3\n");
    // Cut inside the last chunk: the same.
    let cut = dir.join("cut.prlz");
    std::fs::write(&cut, &bytes[..bytes.len() - 1000]).unwrap();
    stdout(&[&"head", &cut, &"-n", &"3"]);

    // `inspect` and CSV read every chunk: chunk 2 is named, and no CSV
    // file is left.
    let error = failure(&[&"inspect", &path], 1);
    assert!(error.contains("chunk 2, at byte"), "{error}");
    let out = dir.join("big.csv");
    let error = failure(&[&"convert", &path, &"--to", &"csv", &out], 1);
    assert!(error.contains("chunk 2, at byte"), "{error}");
    assert!(!out.exists());
    // A head that reaches the corrupt chunk fails as they do.
    let error = failure(&[&"head", &path, &"-n", &"100000"], 1);
    assert!(error.contains("chunk 2, at byte"), "{error}");

    // Whole, every command reads it: inspect counts 3 chunks, CSV has a
    // line per packet.
    results
        .write_to(std::fs::File::create(&path).unwrap())
        .unwrap();
    let text = stdout(&[&"inspect", &path]);
    assert!(
        text.contains("packets:         100000 of 24 bytes\n"),
        "{text}"
    );
    assert!(text.contains("chunks:          3 chunks\n"), "{text}");
    stdout(&[&"convert", &path, &"--to", &"csv", &out]);
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.matches("\r\n").count(), 100_001);
    assert!(
        csv.ends_with("49748,ünï,false,abababab\r\n"),
        "{}",
        &csv[csv.len() - 100..]
    );
}
