//! `parallelizer`: inspect, print and convert parallelizer results files
//! (format version 2) from the schema each file stores, with no Rust type.
//!
//! - `parallelizer inspect FILE`: the format version, the packet count, the
//!   chunks, the job shape if the file records one, the schema tree (names,
//!   kinds, offsets, sizes, enum variants), every checksum verified;
//! - `parallelizer head FILE [-n N]`: the first `N` packets (10 by default)
//!   as a table, one column per field, nested struct fields as dotted paths
//!   (`normal.x`), strings as text, enums by variant name, bytes as hex. It
//!   reads only the chunks that hold them: it verifies the header, the
//!   schema and those chunks, not the chunks after them;
//! - `parallelizer convert FILE --to csv|npy|arrow OUT`: the packets as CSV
//!   (a header row of the dotted column names, RFC 4180 quoting and line
//!   ends), as NPY (the bytes `Results::write_npy` writes for the task), or
//!   as an Arrow IPC file. `OUT` may be `-`, standard output; a regular
//!   file (or a new one; a link is followed) is written to a temporary file
//!   in its directory and renamed over it only once whole (a failure removes
//!   it and leaves `OUT` as it was), anything else (`/dev/null`, a pipe) is
//!   written in place; `OUT` may not be `FILE` itself. Every packet's values are checked by the
//!   schema (as decoding a field checks them) for every format alike.
//!
//! `inspect`, `head` and CSV conversion read the file a chunk at a time
//! (`ResultsReader`), holding one chunk in memory, so they work on files
//! larger than memory; NPY and Arrow conversion read the whole file into
//! memory (`ResultsFile`), as they are written whole. CSV to standard output
//! has written the rows before a corrupt or cut chunk when it stops with
//! the error (to a file, the partial output is removed). Column names, cells,
//! schema names and errors are printed with control characters escaped.
//!
//! Any error is one line on standard error, `error: FILE: what is wrong`,
//! and a non-zero exit status: 1 for a file that cannot be read or
//! written, 2 for a command line that cannot be understood.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use parallelizer::persist::ResultsReader;
use parallelizer::{Error, Kind, ResultsFile, SchemaField, Value};

/// Inspect, print and convert parallelizer results files (format version
/// 2), from the schema each file stores: no Rust type needed.
#[derive(Debug, Parser)]
#[command(name = "parallelizer", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the file's format version, packet count, chunks, job and schema
    /// tree, after verifying every checksum.
    Inspect {
        /// The results file.
        file: PathBuf,
    },
    /// Print the first packets as a table, one column per field.
    Head {
        /// The results file.
        file: PathBuf,
        /// How many packets to print.
        #[arg(short = 'n', long = "lines", value_name = "N", default_value_t = 10)]
        lines: usize,
    },
    /// Convert the packets to CSV, NPY or Arrow IPC.
    Convert {
        /// The results file.
        file: PathBuf,
        /// The format to write.
        #[arg(long, value_enum, value_name = "FORMAT")]
        to: Format,
        /// The file to write, or `-` for standard output. A regular file
        /// is written to a temporary file in its directory, renamed over it
        /// once whole: a failure leaves it as it was. A device or a pipe is
        /// written in place. It may not be FILE itself.
        out: PathBuf,
    },
}

/// What `convert` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Comma-separated values: a header row of the dotted field names, then
    /// one row per packet.
    Csv,
    /// numpy's NPY: a structured array whose dtype is the packet layout.
    Npy,
    /// An Arrow IPC file, one column per field.
    Arrow,
}

/// A failure, as the one line printed after `error: `.
#[derive(Debug)]
struct Failure(String);

impl Failure {
    /// A failure about `path`: `path: what`.
    fn at(path: &Path, what: impl std::fmt::Display) -> Failure {
        Failure(format!("{}: {what}", path.display()))
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return usage_error(&error),
    };
    let mut stdout = io::stdout().lock();
    let outcome = match &cli.command {
        Command::Inspect { file } => inspect(file, &mut stdout),
        Command::Head { file, lines } => head(file, *lines, &mut stdout),
        Command::Convert { file, to, out } => convert(file, *to, out),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("error: {}", escape_controls(&message));
            ExitCode::FAILURE
        }
    }
}

/// `--help` and `--version` print as clap writes them; a usage error is its
/// first paragraph on one line, with a pointer to `--help`, and status 2.
fn usage_error(error: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            eprintln!(
                "error: no command given: use `inspect`, `head` or `convert` (see `parallelizer --help`)"
            );
            return ExitCode::from(2);
        }
        _ => {}
    }
    let text = error.render().to_string();
    let first: Vec<&str> = text
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = first.join(" ");
    let message = message.strip_prefix("error: ").unwrap_or(&message);
    eprintln!("error: {message} (see `parallelizer --help`)");
    ExitCode::from(2)
}

/// Opens the results file at `path`, buffered.
fn open(path: &Path) -> Result<BufReader<File>, Failure> {
    let file =
        File::open(path).map_err(|error| Failure::at(path, format!("cannot open: {error}")))?;
    Ok(BufReader::with_capacity(1 << 20, file))
}

/// Reads and verifies the whole results file at `path`, every packet in
/// memory (for NPY and Arrow, which are written whole).
fn read(path: &Path) -> Result<ResultsFile, Failure> {
    ResultsFile::read_from(open(path)?).map_err(|error| Failure::at(path, error))
}

/// Opens the results file at `path` to read it chunk by chunk, one chunk in
/// memory at a time, after reading and verifying its header, schema and job
/// record.
fn reader(path: &Path) -> Result<ResultsReader<BufReader<File>>, Failure> {
    ResultsReader::new(open(path)?).map_err(|error| Failure::at(path, error))
}

/// Reads the next chunk of `reader` (the file at `path`) into `chunk`,
/// replacing what it held: `Some` of its packets, `None` once the trailer is
/// verified.
fn next_chunk<'c>(
    path: &Path,
    reader: &mut ResultsReader<BufReader<File>>,
    chunk: &'c mut Vec<u8>,
) -> Result<Option<std::slice::ChunksExact<'c, u8>>, Failure> {
    chunk.clear();
    let size = reader.schema().packet_size();
    match reader.read_chunk(chunk) {
        Ok(Some(_)) => Ok(Some(chunk.chunks_exact(size))),
        Ok(None) => Ok(None),
        Err(error) => Err(Failure::at(path, error)),
    }
}

/// A failure writing to standard output; a closed pipe (`| head`) is not
/// one.
fn stdout_failed(error: io::Error) -> Failure {
    Failure(format!("cannot write to standard output: {error}"))
}

fn quiet_pipe(result: io::Result<()>) -> Result<(), Failure> {
    match result {
        Err(error) if error.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.map_err(stdout_failed),
    }
}

/// `inspect`: every chunk read and verified, one at a time, and the trailer;
/// nothing kept but the counts.
fn inspect(path: &Path, out: &mut impl Write) -> Result<(), Failure> {
    let mut reader = reader(path)?;
    let mut chunk = Vec::new();
    while next_chunk(path, &mut reader, &mut chunk)?.is_some() {}
    quiet_pipe(write_inspect(path, &reader, out))
}

fn write_inspect<R: io::Read>(
    path: &Path,
    file: &ResultsReader<R>,
    out: &mut impl Write,
) -> io::Result<()> {
    let schema = file.schema();
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("{n} {one}")
        } else {
            format!("{n} {many}")
        }
    };
    writeln!(out, "file:            {}", path.display())?;
    writeln!(out, "format version:  {}", file.format_version())?;
    writeln!(
        out,
        "packets:         {} of {}",
        file.packets_read(),
        plural(schema.packet_size() as u64, "byte", "bytes")
    )?;
    writeln!(
        out,
        "chunks:          {}",
        plural(file.chunks_read(), "chunk", "chunks")
    )?;
    writeln!(
        out,
        "checksums:       verified (the header, {} and the trailer)",
        plural(file.chunks_read(), "chunk", "chunks")
    )?;
    writeln!(out, "fingerprint:     {:#018x}", schema.fingerprint())?;
    match file.job() {
        None => writeln!(out, "job:             none recorded")?,
        Some(job) => {
            let args = match job.args() {
                None => "none".to_string(),
                Some(args) => format!(
                    "{}: {}",
                    plural(args.len() as u64, "byte", "bytes"),
                    Value::Raw(args.to_vec())
                ),
            };
            writeln!(
                out,
                "job:             {} task ids in batches of {}, args {args}",
                job.threads(),
                job.batch()
            )?;
        }
    }
    writeln!(out, "schema:")?;
    write!(out, "{}", schema.tree())?;
    out.flush()
}

/// `text` with its control characters escaped as Rust escapes them (`\n`,
/// `\u{1b}`), as `Schema::tree` escapes names: a column name, a cell or an
/// error read from a file may hold anything, and must neither break a
/// table's lines or an error's one line nor reach a terminal raw.
fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a column's values are numbers, right-aligned in a table.
fn is_numeric(field: &SchemaField) -> bool {
    field.kind().fixed_size().is_some() && *field.kind() != Kind::Bool
}

/// Decodes every column of `packet`, packet `index` of the file at `path`,
/// handing each value to `each`: the one check of a packet's values, by the
/// schema, that every command and every format makes (a `bool` 0 or 1, a
/// string within its slot and UTF-8, an enum one of its variants...).
fn decode_row(
    path: &Path,
    columns: &[(String, &SchemaField)],
    index: usize,
    packet: &[u8],
    mut each: impl FnMut(Value),
) -> Result<(), Failure> {
    for (name, field) in columns {
        let value = field.value(packet).map_err(|error| {
            Failure::at(path, format!("packet {index}, column `{name}`: {error}"))
        })?;
        each(value);
    }
    Ok(())
}

/// The values of `packet`, packet `index`, one per column, as text.
fn row(
    path: &Path,
    columns: &[(String, &SchemaField)],
    index: usize,
    packet: &[u8],
) -> Result<Vec<String>, Failure> {
    let mut cells = Vec::with_capacity(columns.len());
    decode_row(path, columns, index, packet, |value| {
        cells.push(value.to_string())
    })?;
    Ok(cells)
}

/// Checks every packet of `file` as [`decode_row`] does, before a format
/// that copies the packets' bytes (NPY) or converts them column by column
/// (Arrow) is written: an invalid value fails every conversion alike, with
/// the error CSV gives, and before any output is written.
fn validate(path: &Path, file: &ResultsFile) -> Result<(), Failure> {
    let columns = file.schema().columns();
    for (index, packet) in file.packets().enumerate() {
        decode_row(path, &columns, index, packet, drop)?;
    }
    Ok(())
}

/// `head`: the first `lines` packets as a table, reading chunks only until
/// it has them. It verifies the header, the schema and the chunks it reads
/// (and the trailer if it reads every chunk), not the chunks after them.
fn head(path: &Path, lines: usize, out: &mut impl Write) -> Result<(), Failure> {
    let mut reader = reader(path)?;
    let schema = reader.schema().clone();
    let columns = schema.columns();
    let mut table = vec![std::iter::once("#".to_string())
        .chain(columns.iter().map(|(name, _)| escape_controls(name)))
        .collect::<Vec<_>>()];
    let mut chunk = Vec::new();
    let mut index = 0;
    while index < lines {
        let Some(packets) = next_chunk(path, &mut reader, &mut chunk)? else {
            break;
        };
        for packet in packets.take(lines - index) {
            let mut cells = vec![index.to_string()];
            cells.extend(
                row(path, &columns, index, packet)?
                    .iter()
                    .map(|cell| escape_controls(cell)),
            );
            table.push(cells);
            index += 1;
        }
    }
    let right: Vec<bool> = std::iter::once(true)
        .chain(columns.iter().map(|(_, field)| is_numeric(field)))
        .collect();
    let mut widths = vec![0; right.len()];
    for cells in &table {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for cells in &table {
        let mut line = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = " ".repeat(widths[i] - cell.chars().count());
            if right[i] {
                line.push_str(&pad);
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&pad);
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    quiet_pipe(out.write_all(text.as_bytes()).and_then(|()| out.flush()))
}

/// `convert`: the file at `path` as `to`, to `out`. CSV is written as the
/// chunks are read, one in memory at a time; NPY and Arrow, written whole,
/// read the whole file first.
fn convert(path: &Path, to: Format, out: &Path) -> Result<(), Failure> {
    if out == Path::new("-") {
        let stdout = io::stdout().lock();
        return match write_as(path, to, &mut BufWriter::new(stdout)) {
            Err(Written::Io(error)) => quiet_pipe(Err(error)),
            Err(Written::Failed(failure)) => Err(failure),
            Ok(()) => Ok(()),
        };
    }
    let mut output = Output::create(path, out)?;
    let outcome = write_as(path, to, output.writer());
    output.finish(outcome)
}

/// A conversion's output while it is written. A regular file (or a new
/// one) is written as a temporary file in its directory and renamed over
/// it once whole, so that it is never seen half written, a failure leaves
/// it as it was, and the input is never truncated (even when `OUT` is
/// another name for it); a link is followed, so the file it names is the
/// one replaced, and a replaced file keeps its permissions. Anything else
/// (`/dev/null`, a pipe, a terminal) is written in place.
struct Output<'a> {
    /// `OUT` as given, for messages.
    out: &'a Path,
    /// The temporary file and the file it replaces once whole; `None` when
    /// writing in place, or once renamed.
    replace: Option<(PathBuf, PathBuf)>,
    writer: Option<BufWriter<File>>,
}

impl<'a> Output<'a> {
    /// Refuses an `out` that is the input at `input` (the same file after
    /// following links), then opens what the conversion writes to.
    fn create(input: &Path, out: &'a Path) -> Result<Output<'a>, Failure> {
        if let (Ok(input), Ok(output)) = (input.canonicalize(), out.canonicalize()) {
            if input == output {
                return Err(Failure::at(
                    out,
                    "is the file being converted: write the output to another file",
                ));
            }
        }
        let (target, permissions) = match std::fs::metadata(out) {
            Ok(metadata) if !metadata.is_file() => {
                let file = File::options()
                    .write(true)
                    .open(out)
                    .map_err(|error| Failure::at(out, format!("cannot write to it: {error}")))?;
                return Ok(Output {
                    out,
                    replace: None,
                    writer: Some(BufWriter::with_capacity(1 << 20, file)),
                });
            }
            Ok(metadata) => {
                let target = out
                    .canonicalize()
                    .map_err(|error| Failure::at(out, format!("cannot follow it: {error}")))?;
                (target, Some(metadata.permissions()))
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => (out.to_path_buf(), None),
            Err(error) => return Err(Failure::at(out, format!("cannot write to it: {error}"))),
        };
        let name = target
            .file_name()
            .ok_or_else(|| Failure::at(out, "is not a file name: give the file to write"))?;
        let directory = match target.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        // A name of this process's own, never an existing file's: taken
        // with `create_new`, retried with the next number if one is there.
        let mut attempt = 0u32;
        loop {
            let mut temporary_name = std::ffi::OsString::from(".");
            temporary_name.push(name);
            temporary_name.push(format!(".{}-{attempt}.tmp", std::process::id()));
            let temporary = directory.join(temporary_name);
            match File::options()
                .write(true)
                .create_new(true)
                .open(&temporary)
            {
                Ok(file) => {
                    if let Some(permissions) = permissions {
                        // Best effort: the output is whole without them.
                        let _ = file.set_permissions(permissions);
                    }
                    return Ok(Output {
                        out,
                        replace: Some((temporary, target)),
                        writer: Some(BufWriter::with_capacity(1 << 20, file)),
                    });
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => {
                    attempt += 1;
                }
                Err(error) => {
                    return Err(Failure::at(
                        out,
                        format!(
                            "cannot create a temporary file in {}: {error}",
                            directory.display()
                        ),
                    ))
                }
            }
        }
    }

    /// Where the conversion writes.
    fn writer(&mut self) -> &mut BufWriter<File> {
        self.writer.as_mut().expect("written before finish")
    }

    /// After a conversion whose outcome is `outcome`: flushes the output;
    /// a temporary file is synced and renamed over its target on success,
    /// and removed on failure.
    fn finish(mut self, outcome: Result<(), Written>) -> Result<(), Failure> {
        let writer = self.writer.take().expect("finished once");
        let out = self.out;
        let replacing = self.replace.is_some();
        outcome
            .and_then(|()| {
                let file = writer
                    .into_inner()
                    .map_err(|error| Written::Io(error.into_error()))?;
                // Only a file of ours is synced: `/dev/null` cannot be.
                if replacing {
                    file.sync_all().map_err(Written::Io)?;
                }
                Ok(())
            })
            .map_err(|error| match error {
                Written::Io(error) => Failure::at(out, format!("cannot write: {error}")),
                Written::Failed(failure) => failure,
            })?;
        if let Some((temporary, target)) = &self.replace {
            std::fs::rename(temporary, target).map_err(|error| {
                Failure::at(
                    out,
                    format!(
                        "cannot replace it with the output written to {}: {error}",
                        temporary.display()
                    ),
                )
            })?;
        }
        // Renamed (or written in place): nothing left to remove.
        self.replace = None;
        Ok(())
    }
}

impl Drop for Output<'_> {
    fn drop(&mut self) {
        // A partial output is not left behind (nor is the input touched).
        drop(self.writer.take());
        if let Some((temporary, _)) = &self.replace {
            let _ = std::fs::remove_file(temporary);
        }
    }
}

/// Why writing a conversion stopped: the output's error, or the input's.
enum Written {
    Io(io::Error),
    Failed(Failure),
}

impl From<io::Error> for Written {
    fn from(error: io::Error) -> Self {
        Written::Io(error)
    }
}

/// Writes the packets of the results file at `path` as `to` to `out`.
fn write_as(path: &Path, to: Format, out: &mut dyn Write) -> Result<(), Written> {
    // CSV is streamed, and decodes (so checks) every value as it writes it;
    // NPY and Arrow are written whole, after every value is checked alike.
    let whole = |path: &Path| {
        let file = read(path).map_err(Written::Failed)?;
        validate(path, &file).map_err(Written::Failed)?;
        Ok::<_, Written>(file)
    };
    match to {
        Format::Csv => write_csv(path, out),
        Format::Npy => Ok(whole(path)?.write_npy(out)?),
        Format::Arrow => {
            whole(path)?.write_arrow_ipc(out).map_err(|error| {
                match error {
                    // The output failed: said as the output's error.
                    Error::WriteFailed { kind, message, .. } => {
                        Written::Io(io::Error::new(kind, message))
                    }
                    error => Written::Failed(Failure::at(path, error)),
                }
            })
        }
    }
}

/// Writes the packets of the results file at `path` as CSV to `out`, chunk
/// by chunk as they are read and verified.
fn write_csv(path: &Path, out: &mut dyn Write) -> Result<(), Written> {
    let mut reader = reader(path).map_err(Written::Failed)?;
    let schema = reader.schema().clone();
    let columns = schema.columns();
    let mut csv = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(out);
    let written = |error: csv::Error| match error.into_kind() {
        csv::ErrorKind::Io(error) => Written::Io(error),
        other => Written::Io(io::Error::other(format!("{other:?}"))),
    };
    csv.write_record(columns.iter().map(|(name, _)| name))
        .map_err(written)?;
    let mut chunk = Vec::new();
    let mut index = 0;
    while let Some(packets) = next_chunk(path, &mut reader, &mut chunk).map_err(Written::Failed)? {
        for packet in packets {
            let cells = row(path, &columns, index, packet).map_err(Written::Failed)?;
            csv.write_record(&cells).map_err(written)?;
            index += 1;
        }
    }
    csv.flush()?;
    Ok(())
}
