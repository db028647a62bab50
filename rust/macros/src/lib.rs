//! # ruvector-training-macros
//!
//! `#[simd_dispatch]`: the one place that says which CPUs the element-wise kernels of
//! `ruvector-training-core` are compiled for. It expands to
//!
//! ```text
//! #[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]
//! ```
//!
//! on the function it decorates: one copy of the function per target (AVX-512, AVX2+FMA) plus
//! the portable default, chosen once at run time from the CPU's features, so portable wheels
//! still use the wide registers. Every kernel whose loop should vectorise for these targets uses
//! this attribute instead of spelling out the list; changing the list here changes every kernel.
//! A kernel that needs another AVX-512 extension on the AVX-512 target names it:
//! `#[simd_dispatch(avx512dq)]` (64-bit integer multiplies) compiles that target as
//! `x86_64+avx512f+avx512vl+avx512dq+avx2+fma`.
//!
//! The loops of these kernels keep `ruvector_training_core::reduce::LANES` independent
//! accumulators (one 512-bit register of `f32`), the one lane count of the crate.

use proc_macro::{TokenStream, TokenTree};

/// The AVX-512 target before any extension a kernel adds.
const AVX512: &str = "x86_64+avx512f+avx512vl";

/// What follows the extensions in the AVX-512 target.
const AVX512_TAIL: &str = "+avx2+fma";

/// The AVX2 target.
const AVX2: &str = "x86_64+avx2+fma";

/// Compiles the decorated function once per target plus a portable default and dispatches at
/// run time: `#[simd_dispatch]` is
/// `#[multiversion::multiversion(targets("x86_64+avx512f+avx512vl+avx2+fma", "x86_64+avx2+fma"))]`.
/// Optional arguments are AVX-512 extensions (`avx512dq`, `avx512bw`, ...) added to the
/// AVX-512 target only. The crate using it must depend on `multiversion` (the expansion names
/// it).
#[proc_macro_attribute]
pub fn simd_dispatch(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut extensions = String::new();
    for token in attr {
        match token {
            TokenTree::Ident(ident) if ident.to_string().starts_with("avx512") => {
                extensions.push('+');
                extensions.push_str(&ident.to_string());
            }
            TokenTree::Punct(punct) if punct.as_char() == ',' => {}
            other => {
                let message = format!(
                    "#[simd_dispatch] takes only AVX-512 extensions such as avx512dq, got `{other}`"
                );
                return format!("compile_error!({message:?});")
                    .parse()
                    .expect("a valid compile_error! invocation");
            }
        }
    }
    let targets = format!("\"{AVX512}{extensions}{AVX512_TAIL}\", \"{AVX2}\"");
    let attribute: TokenStream = format!("#[multiversion::multiversion(targets({targets}))]")
        .parse()
        .expect("a valid attribute");
    attribute.into_iter().chain(item).collect()
}
