//! gemm allocates its packing buffers infallibly; `gemm_into` probes their size first, so a
//! shortage is an `OutOfMemory` error instead of an abort. Run in its own test binary (its own
//! process) because it lowers the address-space limit, on the main thread (`harness = false`):
//! a test thread's malloc arena keeps tens of MiB reserved, which would hide the shortage.

fn main() {
    #[cfg(target_os = "linux")]
    gemm_packing_shortage_is_an_error_not_an_abort();
}

#[cfg(target_os = "linux")]
fn gemm_packing_shortage_is_an_error_not_an_abort() {
    use ruvector_training_core::linalg::{gemm_into, gemm_workspace_bytes, Accumulate, Product};
    use ruvector_training_core::{MatRef, TrainingError};

    fn vm_size_bytes() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    let (m, n, k) = (2048, 2048, 512);
    let a = vec![1.0f32; m * k];
    let b = vec![1.0f32; n * k];
    let mut dst = vec![0.0f32; m * n];
    let need = gemm_workspace_bytes::<f32>(m, n, k, false) as u64;
    assert!(need > 1 << 20, "{need}");
    let mut old = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit calls on valid structs.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_AS, &mut old), 0);
        let tight = libc::rlimit {
            rlim_cur: vm_size_bytes() + need / 8,
            rlim_max: old.rlim_max,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &tight), 0);
    }
    let (lhs, rhs) = (MatRef::new(&a, m, k), MatRef::new(&b, n, k));
    let result = gemm_into(
        "lhs",
        Product::NT,
        lhs,
        rhs,
        &mut dst,
        1.0,
        Accumulate::Overwrite,
        false,
    );
    // SAFETY: as above.
    unsafe {
        assert_eq!(libc::setrlimit(libc::RLIMIT_AS, &old), 0);
    }
    assert!(
        matches!(result, Err(TrainingError::OutOfMemory { arg: "lhs", .. })),
        "{result:?}"
    );
    gemm_into(
        "lhs",
        Product::NT,
        lhs,
        rhs,
        &mut dst,
        1.0,
        Accumulate::Overwrite,
        false,
    )
    .unwrap();
    assert!(dst.iter().all(|&v| v == k as f32));
    println!("gemm_probe: ok (probe of {need} bytes refused under the limit, call fine without)");
}
