//! The VM handle: owns the heap, the VM stack, the method cache, the I/O
//! channels and the options. Allocation goes through here, because only here
//! are all the roots known (heap roots, handles, the VM stack, the
//! interpreter's cached registers).
//!
//! Execution lives in [`crate::interp`], primitives in [`crate::prims`].

use crate::heap::{Heap, HeapConfig, OutOfMemory};
use crate::image::llst::{self, ImageError};
use crate::interp::cache::MethodCache;
use crate::interp::process::Run;
use crate::layout;
use crate::roots::{IMAGE_ROOTS, ROOT_COUNT, Root};
use crate::value::Value;
use std::io::{self, BufRead, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// Where line input (primitive 251) and character input (primitive 9) come from.
pub trait Console {
    /// Shows `prompt` and reads one line without its newline; `None` at end of input.
    fn read_line(&mut self, prompt: &str) -> io::Result<Option<String>>;
    /// Reads one byte; `None` at end of input.
    fn read_byte(&mut self) -> io::Result<Option<u8>>;
}

/// A console on any buffered reader (piped stdin, a string in tests).
/// The prompt is not shown: there is nobody to see it.
pub struct ReaderConsole<R: BufRead>(pub R);

impl<R: BufRead> Console for ReaderConsole<R> {
    fn read_line(&mut self, _prompt: &str) -> io::Result<Option<String>> {
        let mut buf = Vec::new();
        if self.0.read_until(b'\n', &mut buf)? == 0 {
            return Ok(None);
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        Ok(Some(String::from_utf8_lossy(&buf).into_owned()))
    }
    fn read_byte(&mut self) -> io::Result<Option<u8>> {
        let buf = self.0.fill_buf()?;
        let Some(&b) = buf.first() else {
            return Ok(None);
        };
        self.0.consume(1);
        Ok(Some(b))
    }
}

/// VM options.
#[derive(Clone, Debug)]
pub struct Options {
    pub heap: HeapConfig,
    /// Collect at every allocation (or every `gc_stress_interval`-th).
    pub gc_stress: bool,
    /// With `gc_stress`: collect at every N-th allocation (1: every one).
    pub gc_stress_interval: u32,
    /// VM stack size in slots (8 bytes each). Deeper recursion is a
    /// Smalltalk error.
    pub stack_slots: usize,
    /// Print every send to stderr (`--trace`).
    pub trace_sends: bool,
}

/// `LST_GC_STRESS`: unset or `0` is off; `1` (or any other text) collects
/// at every allocation; a number N > 1 at every N-th.
fn stress_interval_from_env() -> Option<u32> {
    let v = std::env::var("LST_GC_STRESS").ok()?;
    match v.trim().parse::<u32>() {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(_) => Some(1),
    }
}

/// Default VM stack: 64 Mi slots (512 MiB of address space, touched only
/// as deep as the program recurses): a million frames fit with room.
pub const DEFAULT_STACK_SLOTS: usize = 64 << 20;

impl Default for Options {
    fn default() -> Self {
        Options {
            heap: HeapConfig::default(),
            gc_stress: stress_interval_from_env().is_some(),
            gc_stress_interval: stress_interval_from_env().unwrap_or(1),
            stack_slots: DEFAULT_STACK_SLOTS,
            trace_sends: false,
        }
    }
}

/// Execution counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    pub sends: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
}

/// A running VM.
pub struct Vm {
    pub heap: Heap,
    /// The VM stack: frames of every running process (see `interp::frame`).
    pub(crate) stack: crate::interp::stack::Stack,
    /// Slots the stack may use before a send fails with "stack overflow"
    /// (raised while handling that error, into the red zone).
    pub(crate) stack_limit: usize,
    /// The configured limit; the allocation adds the red zone beyond it.
    pub(crate) stack_base_limit: usize,
    /// Interpreter registers that hold heap references: the current
    /// method's bytecodes and literals. A root, refreshed by the collector.
    pub(crate) regs: [Value; 2],
    /// Header index of the current frame, and the next bytecode.
    pub(crate) hp: usize,
    pub(crate) pc: usize,
    /// The current frame's receiver index and temporaries base (cached from its header).
    pub(crate) fp: usize,
    pub(crate) tb: usize,
    /// Every verified method's pre-decoded steps (see `interp::decoded`).
    pub(crate) decoded: crate::interp::decoded::DecodedTable,
    /// The current method's steps in `decoded`, and the bytecode object
    /// they are for (refreshed by the collector).
    pub(crate) steps_id: u32,
    pub(crate) decoded_code: Value,
    /// The current method's steps (`decoded`'s entry `steps_id`).
    pub(crate) steps: std::rc::Rc<[crate::interp::verify::Step]>,
    pub(crate) cache: MethodCache,
    pub(crate) runs: Vec<Run>,
    /// Safepoint countdown: decremented at method entry and backward branches.
    pub(crate) countdown: i64,
    pub(crate) countdown_reset: i64,
    pub(crate) interrupt: Arc<AtomicBool>,
    pub(crate) error_depth: u32,
    /// Error reports under way (see `prims::report`).
    pub(crate) error_reports: Vec<crate::prims::report::ErrorReport>,
    /// The last message of a process stopped by a fatal error.
    pub(crate) last_fatal: Option<String>,
    pub(crate) next_serial: i64,
    pub options: Options,
    pub stats: Stats,
    pub(crate) out: Box<dyn Write>,
    pub(crate) console: Box<dyn Console>,
    pub(crate) files: crate::prims::io::FileTable,
    pub(crate) symbols: crate::link::SymbolTable,
    /// Allocations since the last stress collection.
    stress_count: u32,
    /// Registers compiled code shares with the runtime (fixed offsets).
    pub(crate) native_regs: crate::jit_runtime::boundary::NativeRegs,
    /// Why compiled code last returned to the interpreter.
    pub(crate) native_exit: crate::jit_runtime::boundary::NativeExit,
    /// The JIT, when one is installed.
    pub(crate) jit: Option<Box<crate::jit_runtime::tiering::Tier>>,
    /// Which selectors quick methods answer (built for the JIT, dropped
    /// when methods change).
    pub(crate) quick_selectors: Option<crate::jit_runtime::quick::QuickSelectors>,
    /// Type feedback (weak references, updated by every collection).
    pub(crate) feedback: crate::feedback::FeedbackTable,
    /// While the JIT compiles a unit: its sends not to inline (see
    /// `Vm::sends_not_to_inline`).
    pub(crate) jit_sends_not_to_inline: Vec<u16>,
}

/// Why a VM could not be created.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error(transparent)]
    Native(#[from] crate::image::native::NativeImageError),
}

impl Vm {
    /// Loads an LLST image file's bytes.
    pub fn from_llst_image(bytes: &[u8], options: Options) -> Result<Vm, LoadError> {
        let heap = llst::load(bytes, options.heap)?;
        Ok(Vm::with_heap(heap, options))
    }

    /// Loads an image file's bytes: lst's own format (by its magic) or LLST's.
    pub fn from_image(bytes: &[u8], options: Options) -> Result<Vm, LoadError> {
        if bytes.starts_with(crate::image::native::MAGIC) {
            let heap = crate::image::native::load(bytes, options.heap)?;
            Ok(Vm::with_heap(heap, options))
        } else {
            Vm::from_llst_image(bytes, options)
        }
    }

    /// True if the image has an initial method to run at start-up (LLST
    /// images: `nil main`, their own REPL). lst's own images have none: the
    /// host runs the REPL and evaluates through [`Vm::compile_doit`].
    pub fn boots_itself(&self) -> bool {
        self.root(Root::InitialMethod) != self.nil()
    }

    /// The running image in lst's format (collects first, so that only
    /// live objects are written).
    pub fn image_bytes(&mut self) -> Result<Vec<u8>, OutOfMemory> {
        // Only live methods' bytecodes go into the image.
        self.steps_id = self.decoded.prune(self.steps_id, true);
        self.collect_garbage(0)?;
        Ok(crate::image::native::write(&self.heap))
    }

    /// Saves the image to `path` atomically: written to a temporary file
    /// beside it, synced, then renamed over `path`.
    pub fn save_image(&mut self, path: &std::path::Path) -> io::Result<()> {
        let bytes = self.image_bytes().map_err(io::Error::other)?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty());
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other(format!("{} names no file", path.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".tmp{}", std::process::id()));
        let tmp = dir.map_or_else(|| tmp_name.clone().into(), |d| d.join(&tmp_name));
        let result = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    pub(crate) fn with_heap(mut heap: Heap, options: Options) -> Vm {
        debug_assert!(heap.roots.len() == IMAGE_ROOTS || heap.roots.len() == ROOT_COUNT);
        let nil = heap.roots[Root::Nil as usize];
        heap.roots.resize(ROOT_COUNT, nil);
        let limit = options.stack_slots.max(1 << 10);
        let capacity = limit + crate::interp::frame::RED_ZONE;
        let mut vm = Vm {
            heap,
            stack: crate::interp::stack::Stack::with_capacity(capacity),
            stack_limit: limit,
            stack_base_limit: limit,
            regs: [nil; 2],
            hp: 0,
            pc: 0,
            fp: 0,
            tb: 0,
            decoded: crate::interp::decoded::DecodedTable::new(),
            steps_id: 0,
            steps: std::rc::Rc::from([]),
            decoded_code: crate::interp::decoded::no_code(),
            cache: MethodCache::new(),
            runs: Vec::new(),
            countdown: crate::interp::process::POLL_INTERVAL,
            countdown_reset: crate::interp::process::POLL_INTERVAL,
            interrupt: Arc::new(AtomicBool::new(false)),
            error_depth: 0,
            error_reports: Vec::new(),
            last_fatal: None,
            next_serial: 1,
            options,
            stats: Stats::default(),
            out: Box::new(io::stdout()),
            console: Box::new(ReaderConsole(io::BufReader::new(io::stdin()))),
            files: crate::prims::io::FileTable::new(),
            symbols: Default::default(),
            stress_count: 0,
            native_regs: Default::default(),
            native_exit: Default::default(),
            jit: None,
            quick_selectors: None,
            feedback: Default::default(),
            jit_sends_not_to_inline: Vec::new(),
        };
        vm.find_named_roots();
        vm.native_after_collection();
        vm
    }

    /// Looks up the roots the image does not store by position.
    pub(crate) fn find_named_roots(&mut self) {
        for (root, name) in [
            (Root::ProcessClass, "Process"),
            (Root::SymbolClass, "Symbol"),
            (Root::ByteArrayClass, "ByteArray"),
            (Root::CharClass, "Char"),
            (Root::ClassClass, "Class"),
            (Root::UndefinedClass, "Undefined"),
            (Root::FloatClass, "Float"),
            (Root::LargeIntegerClass, "LargeInteger"),
            (Root::MethodClass, "Method"),
        ] {
            if let Some(v) = self.global(name) {
                self.heap.roots[root as usize] = v;
            }
        }
        for (root, name) in [
            (Root::SelectorError, "error:"),
            (Root::SelectorValue, "value"),
            (Root::SelectorMain, "main"),
        ] {
            if let Some(v) = self.find_symbol(name.as_bytes()) {
                self.heap.roots[root as usize] = v;
            }
        }
        // lst's own special sends: made if an image lacks one (running out
        // of memory here leaves it nil, and such a send an error).
        let specials = crate::roots::BINARY_SPECIAL_ROOTS
            .iter()
            .zip(lst_bytecode::BINARY_SPECIALS);
        for (&root, name) in specials.skip(lst_bytecode::LLST_BINARY_SPECIALS) {
            let found = match self.find_symbol(name.as_bytes()) {
                Some(v) => Some(v),
                None => self.intern(name.as_bytes()).ok(),
            };
            if let Some(v) = found {
                self.heap.roots[root as usize] = v;
            }
        }
    }

    /// Replaces the output sink (tests capture output this way).
    pub fn set_output(&mut self, out: Box<dyn Write>) {
        self.out = out;
    }
    /// Replaces the input source.
    pub fn set_console(&mut self, console: Box<dyn Console>) {
        self.console = console;
    }
    /// The flag that Ctrl-C sets; the interpreter polls it at safepoints.
    pub fn interrupt_flag(&self) -> Arc<AtomicBool> {
        self.interrupt.clone()
    }
    /// Why the last process stopped on a fatal error (an error while
    /// handling an error, say), if one did.
    pub fn last_fatal(&self) -> Option<&str> {
        self.last_fatal.as_deref()
    }
    /// Flushes program output.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    // -- Roots and well-known objects -------------------------------------------

    #[inline(always)]
    pub fn root(&self, r: Root) -> Value {
        self.heap.roots[r as usize]
    }
    #[inline(always)]
    pub fn nil(&self) -> Value {
        self.root(Root::Nil)
    }
    #[inline(always)]
    pub fn boolean(&self, b: bool) -> Value {
        self.root(if b { Root::True } else { Root::False })
    }

    /// The class of any value.
    #[inline(always)]
    pub fn class_of(&self, v: Value) -> Value {
        if v.is_int() {
            self.root(Root::SmallIntClass)
        } else {
            self.heap.class_of_object(v)
        }
    }

    /// True if `v` can serve as a class: a pointer object with the slots
    /// method lookup and instantiation read.
    pub fn is_class_shaped(&self, v: Value) -> bool {
        v.is_ref() && !self.heap.is_bytes(v) && self.heap.size(v) >= layout::class::MIN_SLOTS
    }

    /// A byte object's bytes as text (lossy), for names and messages.
    pub fn text_of(&self, v: Value) -> String {
        if v.is_ref() && self.heap.is_bytes(v) {
            String::from_utf8_lossy(self.heap.bytes(v)).into_owned()
        } else if let Some(n) = v.as_int() {
            n.to_string()
        } else {
            String::from("?")
        }
    }

    /// The name of a class (`?` if it has none).
    pub fn class_name(&self, class: Value) -> String {
        if !self.is_class_shaped(class) {
            return "?".into();
        }
        self.text_of(self.heap.get(class, layout::class::NAME).unwrap_or(class))
    }

    /// The global named `name`.
    pub fn global(&self, name: &str) -> Option<Value> {
        self.dictionary_find(self.root(Root::Globals), name.as_bytes())
    }

    /// Finds an existing Symbol by its bytes: through the symbol table
    /// once it has been filled, else a global's key or a selector in some
    /// class's method dictionary.
    pub fn find_symbol(&self, name: &[u8]) -> Option<Value> {
        if let Some(found) = self.interned(name) {
            return found;
        }
        let globals = self.root(Root::Globals);
        for (k, v) in self.dictionary_entries(globals) {
            if k.is_ref() && self.heap.bytes(k) == name {
                return Some(k);
            }
            if !self.is_class_shaped(v) {
                continue;
            }
            for class in [v, self.heap.class_of_object(v)] {
                if !self.is_class_shaped(class) {
                    continue;
                }
                let Some(methods) = self.heap.get(class, layout::class::METHODS) else {
                    continue;
                };
                let found = self
                    .dictionary_entries(methods)
                    .into_iter()
                    .map(|(s, _)| s)
                    .find(|&s| s.is_ref() && self.heap.bytes(s) == name);
                if found.is_some() {
                    return found;
                }
            }
        }
        None
    }

    // -- Allocation ----------------------------------------------------------------

    /// Runs a collection now, with every root, and makes room for `want` words.
    pub fn collect_garbage(&mut self, want: usize) -> Result<(), OutOfMemory> {
        self.steps_id = self.decoded.prune(self.steps_id, false);
        let mut roots: Vec<&mut [Value]> = vec![
            &mut self.stack[..],
            &mut self.regs[..],
            &mut self.decoded.codes,
        ];
        if let Some(t) = self.jit.as_mut() {
            let tier = &mut **t;
            roots.push(&mut tier.methods);
            // Compiled units' constant pools, updated in place.
            roots.extend(tier.units.iter_mut().flat_map(|u| u.roots_mut()));
        }
        let r = self
            .heap
            .collect_with_weak(&mut roots, &mut self.feedback, want);
        self.cache.flush();
        self.decoded.reindex();
        self.decoded_code = self.decoded.codes[self.steps_id as usize];
        self.native_after_collection();
        r
    }

    /// Under GC stress: whether this allocation collects.
    fn stress_due(&mut self) -> bool {
        if !self.options.gc_stress {
            return false;
        }
        self.stress_count += 1;
        if self.stress_count >= self.options.gc_stress_interval.max(1) {
            self.stress_count = 0;
            true
        } else {
            false
        }
    }

    fn make_room(&mut self, words: usize) -> Result<(), OutOfMemory> {
        if self.stress_due() || !self.heap.fits(words) {
            self.collect_garbage(words)?;
        }
        Ok(())
    }

    /// Allocates a pointer object of `slots` nil slots. May collect: every
    /// `Value` not in a root is stale afterwards.
    pub fn alloc_slots(&mut self, class: Value, slots: usize) -> Result<Value, OutOfMemory> {
        let words = Heap::words_for(slots, false);
        let nil = self.nil();
        if let Some(v) = (!self.options.gc_stress)
            .then(|| self.heap.alloc_slots(class, slots, nil))
            .flatten()
        {
            return Ok(v);
        }
        let h = self.heap.push_handle(class);
        let r = self.make_room(words);
        let class = self.heap.handle(h);
        self.heap.release_handles(h);
        r?;
        let nil = self.nil();
        Ok(self
            .heap
            .alloc_slots(class, slots, nil)
            .expect("collect made room"))
    }

    /// Allocates a zeroed byte object. May collect.
    pub fn alloc_bytes(&mut self, class: Value, len: usize) -> Result<Value, OutOfMemory> {
        let words = Heap::words_for(len, true);
        if let Some(v) = (!self.options.gc_stress)
            .then(|| self.heap.alloc_bytes(class, len))
            .flatten()
        {
            return Ok(v);
        }
        let h = self.heap.push_handle(class);
        let r = self.make_room(words);
        let class = self.heap.handle(h);
        self.heap.release_handles(h);
        r?;
        Ok(self
            .heap
            .alloc_bytes(class, len)
            .expect("collect made room"))
    }

    /// A new String holding `text`. May collect.
    pub fn new_string(&mut self, text: &[u8]) -> Result<Value, OutOfMemory> {
        let s = self.alloc_bytes(self.root(Root::StringClass), text.len())?;
        self.heap.bytes_mut(s).copy_from_slice(text);
        Ok(s)
    }

    /// A new Array of `n` nils.
    pub fn new_array(&mut self, n: usize) -> Result<Value, OutOfMemory> {
        self.alloc_slots(self.root(Root::ArrayClass), n)
    }

    /// A new Array holding a copy of VM stack slots `from..to`.
    pub fn array_from_stack(&mut self, from: usize, to: usize) -> Result<Value, OutOfMemory> {
        let a = self.new_array(to - from)?;
        for i in from..to {
            let v = self.stack[i];
            self.heap.set(a, i - from, v);
        }
        Ok(a)
    }
}
