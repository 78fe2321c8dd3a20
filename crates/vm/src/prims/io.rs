//! Input and output primitives: characters, lines (readline), and files
//! through LLST's POSIX-style numbered descriptors.
//!
//! Descriptors 0, 1 and 2 are the console input, program output and
//! standard error; files opened by Smalltalk get 3 and up.

use super::{Args, PrimResult};
use crate::value::Value;
use crate::vm::Vm;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};

/// Open files by descriptor number.
pub struct FileTable {
    files: Vec<Option<File>>,
}

impl Default for FileTable {
    fn default() -> Self {
        Self::new()
    }
}

impl FileTable {
    pub fn new() -> FileTable {
        FileTable {
            files: vec![None, None, None],
        }
    }
    fn insert(&mut self, f: File) -> usize {
        if let Some(i) = self.files.iter().skip(3).position(Option::is_none) {
            self.files[i + 3] = Some(f);
            return i + 3;
        }
        self.files.push(Some(f));
        self.files.len() - 1
    }
    fn get(&mut self, fd: i64) -> Option<&mut File> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.files.get_mut(i))
            .and_then(Option::as_mut)
    }
}

/// POSIX open flags as LLST images pass them (Linux values).
mod flags {
    pub const ACCESS: i64 = 3;
    pub const WRITE_ONLY: i64 = 1;
    pub const READ_WRITE: i64 = 2;
    pub const CREATE: i64 = 0o100;
    pub const EXCLUSIVE: i64 = 0o200;
    pub const TRUNCATE: i64 = 0o1000;
    pub const APPEND: i64 = 0o2000;
}

/// 3: writes a character code's low byte to the program output.
pub fn put_char(vm: &mut Vm, a: Args) -> PrimResult {
    let Some(c) = a.int(vm, 0) else {
        return Ok(None);
    };
    if vm.out.write_all(&[c as u8]).is_err() {
        return Ok(None);
    }
    Ok(Some(vm.nil()))
}

/// 9: reads one byte of console input; nil at end of input.
pub fn get_char(vm: &mut Vm, _: Args) -> PrimResult {
    vm.flush();
    match vm.console.read_byte() {
        Ok(Some(b)) => Ok(Some(Value::small(b as i64))),
        Ok(None) => Ok(Some(vm.nil())),
        Err(_) => Ok(None),
    }
}

/// 251: `<251 prompt>`: reads a line (with line editing on a terminal);
/// nil at end of input.
pub fn readline(vm: &mut Vm, a: Args) -> PrimResult {
    let p = a.get(vm, 0);
    let prompt = if p.is_ref() && vm.heap.is_bytes(p) {
        vm.text_of(p)
    } else {
        String::new()
    };
    vm.flush();
    match vm.console.read_line(&prompt) {
        Ok(Some(line)) => Ok(Some(vm.new_string(line.as_bytes())?)),
        Ok(None) => Ok(Some(vm.nil())),
        Err(_) => Ok(None),
    }
}

/// 100: `<100 name mode>`: opens a file; answers its descriptor.
pub fn file_open(vm: &mut Vm, a: Args) -> PrimResult {
    let (name, Some(mode)) = (a.get(vm, 0), a.int(vm, 1)) else {
        return Ok(None);
    };
    if !name.is_ref() || !vm.heap.is_bytes(name) {
        return Ok(None);
    }
    let path = vm.text_of(name);
    let mut o = OpenOptions::new();
    match mode & flags::ACCESS {
        flags::WRITE_ONLY => o.write(true),
        flags::READ_WRITE => o.read(true).write(true),
        _ => o.read(true),
    };
    if mode & flags::APPEND != 0 {
        o.append(true);
    }
    if mode & flags::TRUNCATE != 0 {
        o.truncate(true);
    }
    if mode & flags::CREATE != 0 {
        if mode & flags::EXCLUSIVE != 0 {
            o.create_new(true);
        } else {
            o.create(true);
        }
    }
    match o.open(&path) {
        Ok(f) => Ok(Some(Value::small(vm.files.insert(f) as i64))),
        Err(_) => Ok(None),
    }
}

/// 103: `<103 fd>`: closes a descriptor.
pub fn file_close(vm: &mut Vm, a: Args) -> PrimResult {
    let Some(fd) = a.int(vm, 0).filter(|&fd| fd > 2) else {
        return Ok(None);
    };
    match vm.files.get(fd) {
        Some(_) => {
            vm.files.files[fd as usize] = None;
            Ok(Some(vm.nil()))
        }
        None => Ok(None),
    }
}

/// 105: `<105 fd array>`: stores size, inode and mode into the array.
pub fn file_stat(vm: &mut Vm, a: Args) -> PrimResult {
    use std::os::unix::fs::MetadataExt;
    let (Some(fd), array) = (a.int(vm, 0), a.get(vm, 1)) else {
        return Ok(None);
    };
    if !array.is_ref() || vm.heap.is_bytes(array) || vm.heap.size(array) < 3 {
        return Ok(None);
    }
    let Some(meta) = vm.files.get(fd).and_then(|f| f.metadata().ok()) else {
        return Ok(None);
    };
    for (i, n) in [meta.size() as i64, meta.ino() as i64, meta.mode() as i64]
        .into_iter()
        .enumerate()
    {
        vm.heap
            .set(array, i, Value::int(n).unwrap_or(Value::small(0)));
    }
    Ok(Some(vm.nil()))
}

/// The buffer and count of a read or write: `<10x fd buffer count>`.
fn transfer(vm: &Vm, a: Args) -> Option<(i64, Value, usize)> {
    let (fd, buffer, count) = (a.int(vm, 0)?, a.get(vm, 1), a.int(vm, 2)?);
    let count = usize::try_from(count).ok()?;
    (buffer.is_ref() && vm.heap.is_bytes(buffer) && count <= vm.heap.size(buffer))
        .then_some((fd, buffer, count))
}

/// 106: reads up to `count` bytes into the buffer; answers how many.
pub fn file_read(vm: &mut Vm, a: Args) -> PrimResult {
    let Some((fd, buffer, count)) = transfer(vm, a) else {
        return Ok(None);
    };
    let mut tmp = vec![0u8; count];
    let n = if fd == 0 {
        vm.flush();
        let mut n = 0;
        while n < count {
            match vm.console.read_byte() {
                Ok(Some(b)) => {
                    tmp[n] = b;
                    n += 1;
                    if b == b'\n' {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_) => return Ok(None),
            }
        }
        n
    } else {
        let Some(f) = vm.files.get(fd) else {
            return Ok(None);
        };
        match f.read(&mut tmp) {
            Ok(n) => n,
            Err(_) => return Ok(None),
        }
    };
    vm.heap.bytes_mut(buffer)[..n].copy_from_slice(&tmp[..n]);
    Ok(Some(Value::small(n as i64)))
}

/// 107: writes `count` bytes of the buffer; answers how many.
pub fn file_write(vm: &mut Vm, a: Args) -> PrimResult {
    let Some((fd, buffer, count)) = transfer(vm, a) else {
        return Ok(None);
    };
    let data = vm.heap.bytes(buffer)[..count].to_vec();
    let ok = match fd {
        1 => vm.out.write_all(&data).is_ok(),
        2 => {
            vm.flush();
            std::io::stderr().write_all(&data).is_ok()
        }
        _ => match vm.files.get(fd) {
            Some(f) => f.write_all(&data).is_ok(),
            None => false,
        },
    };
    Ok(ok.then(|| Value::small(count as i64)))
}

/// 108: `<108 fd position>`: seeks from the start; answers the position.
pub fn file_seek(vm: &mut Vm, a: Args) -> PrimResult {
    let (Some(fd), Some(pos)) = (a.int(vm, 0), a.int(vm, 1).filter(|&p| p >= 0)) else {
        return Ok(None);
    };
    let Some(f) = vm.files.get(fd) else {
        return Ok(None);
    };
    match f.seek(SeekFrom::Start(pos as u64)) {
        Ok(p) => Ok(Value::int(p as i64)),
        Err(_) => Ok(None),
    }
}
