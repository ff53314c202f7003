//! Opening a log: compressed logs (gzip, multi-member gzip, zstd) are decompressed as they are
//! read, recognised by their first bytes (never by the file name); other binary input (zip,
//! bzip2, xz, 7z, lz4, a tar archive, or bytes that are not text) is refused, naming the file and
//! what it looks like. Decompressed bytes are capped against decompression bombs, and the
//! compressed bytes read so far can be reported (progress).

use std::cell::Cell;
use std::io::{BufRead, BufReader, Chain, Cursor, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::VerifyError;

/// Most bytes one log may decompress to (a decompression bomb stops here with an error).
pub const MAX_DECOMPRESSED_BYTES: u64 = 16 << 30;

/// Bytes looked at to tell text from binary.
const SNIFF: usize = 8192;

/// What the first bytes of a log say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Plain,
    Gzip,
    Zstd,
}

impl Encoding {
    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "text",
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }
}

/// The compression a log starts with, or the binary format it is (an error message), or text.
fn sniff_magic(head: &[u8]) -> Result<Encoding, &'static str> {
    let starts = |m: &[u8]| head.starts_with(m);
    if starts(&[0x1f, 0x8b]) {
        return Ok(Encoding::Gzip);
    }
    if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
        return Ok(Encoding::Zstd);
    }
    // A zstd skippable frame (0x184D2A50..=0x184D2A5F, little-endian) before the data.
    if let [m, 0x2a, 0x4d, 0x18, ..] = head
        && m & 0xf0 == 0x50
    {
        return Ok(Encoding::Zstd);
    }
    let known: [(&[u8], &'static str); 9] = [
        (b"PK\x03\x04", "a zip archive"),
        (b"PK\x05\x06", "a zip archive (empty)"),
        (b"BZh", "bzip2-compressed data"),
        (&[0xfd, b'7', b'z', b'X', b'Z', 0x00], "xz-compressed data"),
        (&[b'7', b'z', 0xbc, 0xaf, 0x27, 0x1c], "a 7-zip archive"),
        (&[0x04, 0x22, 0x4d, 0x18], "lz4-compressed data"),
        (&[0x1f, 0x9d], "compress (.Z) data"),
        (b"\x7fELF", "an ELF executable"),
        (b"%PDF-", "a PDF document"),
    ];
    for (magic, what) in known {
        if starts(magic) {
            return Err(what);
        }
    }
    if head.get(257..262) == Some(b"ustar") {
        return Err("a tar archive");
    }
    Ok(Encoding::Plain)
}

/// Why a block of (decompressed) bytes is not text, if it is not.
fn not_text(block: &[u8]) -> Option<String> {
    if block.is_empty() {
        return None;
    }
    if let Some(at) = block.iter().position(|&b| b == 0) {
        return Some(format!("binary data (a NUL byte at offset {at})"));
    }
    // Bytes in invalid UTF-8 sequences and control characters other than the usual white space
    // and the escape of terminal colours. Latin-1 text has a few; binary data has many.
    let mut odd = 0usize;
    let mut rest = block;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                odd += s.bytes().filter(|&b| is_odd_control(b)).count();
                break;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                odd += good.iter().filter(|&&b| is_odd_control(b)).count();
                // A sequence cut at the end of the block is not an error.
                let Some(n) = e.error_len() else { break };
                odd += n;
                rest = bad.get(n..).unwrap_or_default();
            }
        }
    }
    let share = odd as f64 / block.len() as f64;
    (share > 0.1).then(|| {
        format!(
            "binary data ({:.0}% of the first {} bytes are not text)",
            share * 100.0,
            block.len()
        )
    })
}

fn is_odd_control(b: u8) -> bool {
    (b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b)) || b == 0x7f
}

/// Read up to `n` bytes (fewer only at the end of the input).
fn read_head(reader: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    reader.by_ref().take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Counts the bytes read through it (the compressed bytes, for progress).
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// Fails once more than `limit` bytes have come through (decompression bombs).
struct Capped<R> {
    inner: R,
    left: u64,
    limit: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let n64 = n as u64;
        if n64 > self.left {
            return Err(std::io::Error::other(format!(
                "decompresses to more than {} bytes (the limit against decompression bombs)",
                self.limit
            )));
        }
        self.left -= n64;
        Ok(n)
    }
}

type Head<R> = Chain<Cursor<Vec<u8>>, R>;

/// A log opened for reading: its text, decompressed if it was compressed.
pub struct Opened<'a> {
    pub reader: Box<dyn BufRead + 'a>,
    pub encoding: Encoding,
    /// Bytes read so far from the underlying input (compressed bytes for a compressed log).
    pub consumed: Rc<Cell<u64>>,
}

/// Open `raw` (the bytes of the log named `name`): detect compression by content, refuse
/// binary input, cap decompressed bytes at `limit`.
pub fn open<'a, R: Read + 'a>(name: &Path, raw: R, limit: u64) -> Result<Opened<'a>, VerifyError> {
    let consumed = Rc::new(Cell::new(0));
    let mut counted = Counting {
        inner: raw,
        count: Rc::clone(&consumed),
    };
    let cannot = |e: std::io::Error| VerifyError::input(name, "log", format!("cannot read: {e}"));
    let head = read_head(&mut counted, SNIFF).map_err(cannot)?;
    let encoding =
        sniff_magic(&head).map_err(|what| refuse(name, &format!("{what}, not a text log")))?;
    let rejoined: Head<Counting<R>> = Cursor::new(head).chain(counted);
    let mut text: Box<dyn Read + 'a> = match encoding {
        Encoding::Plain => Box::new(rejoined),
        Encoding::Gzip => Box::new(Capped {
            inner: flate2::read::MultiGzDecoder::new(rejoined),
            left: limit,
            limit,
        }),
        Encoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(rejoined)
                .map_err(|e| VerifyError::input(name, "zstd log", format!("cannot read: {e}")))?;
            Box::new(Capped {
                inner: decoder,
                left: limit,
                limit,
            })
        }
    };
    let format = format_name(encoding);
    let first = read_head(&mut text, SNIFF)
        .map_err(|e| VerifyError::input(name, format, format!("cannot read: {e}")))?;
    if let Some(why) = not_text(&first) {
        let what = match encoding {
            Encoding::Plain => why,
            other => format!("{} decompressing to {why}", other.name()),
        };
        return Err(refuse(name, &format!("{what}, not a text log")));
    }
    let reader = BufReader::with_capacity(1 << 16, Cursor::new(first).chain(text));
    Ok(Opened {
        reader: Box::new(reader),
        encoding,
        consumed,
    })
}

/// The format named in errors about a log of this encoding.
pub fn format_name(encoding: Encoding) -> &'static str {
    match encoding {
        Encoding::Plain => "log",
        Encoding::Gzip => "gzip log",
        Encoding::Zstd => "zstd log",
    }
}

fn refuse(name: &Path, what: &str) -> VerifyError {
    VerifyError::input(PathBuf::from(name), "log", format!("refused: {what}"))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn read_all(o: Opened<'_>) -> String {
        let mut s = String::new();
        let mut r = o.reader;
        r.read_to_string(&mut s).unwrap();
        s
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn plain_gzip_multi_member_and_zstd_read_the_same() {
        let text = "INFO a\nWARN b\n".repeat(5000);
        let plain = open(Path::new("p"), text.as_bytes(), MAX_DECOMPRESSED_BYTES).unwrap();
        assert_eq!(plain.encoding, Encoding::Plain);
        assert_eq!(read_all(plain), text);
        let (one, two) = text.split_at(text.len() / 3);
        let mut members = gzip(one.as_bytes());
        members.extend(gzip(two.as_bytes()));
        let gz = open(Path::new("g"), &members[..], MAX_DECOMPRESSED_BYTES).unwrap();
        assert_eq!(gz.encoding, Encoding::Gzip);
        assert_eq!(read_all(gz), text, "both gzip members are read");
        let mut frames = zstd::encode_all(one.as_bytes(), 3).unwrap();
        frames.extend(zstd::encode_all(two.as_bytes(), 3).unwrap());
        let zs = open(Path::new("z"), &frames[..], MAX_DECOMPRESSED_BYTES).unwrap();
        assert_eq!(zs.encoding, Encoding::Zstd);
        assert_eq!(read_all(zs), text, "both zstd frames are read");
    }

    #[test]
    fn consumed_counts_compressed_bytes() {
        let text = "GET /x 200\n".repeat(20_000);
        let gz = gzip(text.as_bytes());
        let o = open(Path::new("g"), &gz[..], MAX_DECOMPRESSED_BYTES).unwrap();
        let consumed = Rc::clone(&o.consumed);
        assert_eq!(read_all(o).len(), text.len());
        assert_eq!(consumed.get(), gz.len() as u64);
    }

    #[test]
    fn a_bomb_stops_at_the_cap() {
        let gz = gzip(&b"aaaaaaaaaaaaaaa\n".repeat(100_000));
        let o = open(Path::new("bomb.gz"), &gz[..], 1 << 20).unwrap();
        let mut s = String::new();
        let mut r = o.reader;
        let e = r.read_to_string(&mut s).unwrap_err();
        assert!(e.to_string().contains("decompression bombs"), "{e}");
        // Under the cap in the first block already: refused at open.
        let e = open(Path::new("bomb.gz"), &gz[..], 1000).err().unwrap();
        assert!(e.to_string().starts_with("bomb.gz: gzip log:"), "{e}");
    }

    #[test]
    fn binary_and_other_formats_are_refused_naming_the_file() {
        let cases: [(&[u8], &str); 6] = [
            (b"PK\x03\x04rest", "zip archive"),
            (b"BZh91AY&SY", "bzip2"),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0, 1, 2], "xz"),
            (b"INFO fine\n\0\0\0\0", "NUL byte"),
            (
                &[0x80, 0x81, 0xfe, 0xff, 0x01, 0x02, 0x90, 0x91, b'a', b'b'],
                "not text",
            ),
            (b"\x7fELF\x02\x01", "ELF"),
        ];
        for (bytes, what) in cases {
            let e = open(Path::new("/var/log/app.log"), bytes, 1 << 20)
                .err()
                .unwrap();
            let msg = e.to_string();
            assert!(msg.starts_with("/var/log/app.log: log: refused:"), "{msg}");
            assert!(msg.contains(what), "{msg} should say {what}");
        }
        let gz = gzip(&[0u8; 100]);
        let msg = open(Path::new("x.gz"), &gz[..], 1 << 20)
            .err()
            .unwrap()
            .to_string();
        assert!(msg.contains("gzip decompressing to binary data"), "{msg}");
    }

    #[test]
    fn latin1_and_colours_are_text() {
        let mut t = b"INFO caf\xe9 ouvert \x1b[32mok\x1b[0m\n".repeat(50);
        t.extend_from_slice(b"\xc3"); // a UTF-8 sequence cut at the end of the block
        assert!(not_text(&t).is_none());
        assert!(open(Path::new("e"), &b""[..], 10).is_ok());
    }
}
