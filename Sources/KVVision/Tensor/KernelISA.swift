import Foundation
import CKernels

/// The instruction sets of the reduced-precision GEMM kernels (CKernels `qgemm.c`), lowest first.
///
/// The int8 kernel is picked once per process: the best set the CPU runs among `reference`,
/// `avx2`, `avxVNNI`, `avx512VNNI`, capped by the environment variable `KVVISION_ISA` (one of the
/// raw values) to force a lower one, so every path the machine can run can be exercised on it.
/// bf16 uses `avx512BF16` where it exists (and is not capped below it), else `reference`.
/// Invariants: `supported` reflects the running CPU and OS. Thread-safety: immutable values.
public enum KernelISA: String, Sendable, CaseIterable, Comparable {
    case reference
    case avx2
    case avxVNNI = "avxvnni"
    case avx512VNNI = "avx512vnni"
    case avx512BF16 = "avx512bf16"

    /// The environment variable that caps the instruction set.
    public static let environmentKey = "KVVISION_ISA"

    var code: Int32 {
        switch self {
        case .reference: Int32(KVV_ISA_REFERENCE)
        case .avx2: Int32(KVV_ISA_AVX2)
        case .avxVNNI: Int32(KVV_ISA_AVXVNNI)
        case .avx512VNNI: Int32(KVV_ISA_AVX512VNNI)
        case .avx512BF16: Int32(KVV_ISA_AVX512BF16)
        }
    }

    /// Whether this CPU (and OS) can execute the kernels of this set.
    public var supported: Bool { kvv_isa_supported(code) != 0 }

    /// Whether this set has an int8 kernel (`avx512BF16` has only bf16).
    public var hasInt8: Bool { self != .avx512BF16 }

    /// Whether this set has a bf16 kernel.
    public var hasBF16: Bool { self == .reference || self == .avx512BF16 }

    /// Largest |weight| of int8 packing for this kernel: 63 for AVX2 (its vpmaddubsw sums two
    /// u8·s8 products in a saturating int16, where 255·63·2 fits and 255·127·2 does not), else 127.
    public var int8WeightMax: Int32 { self == .avx2 ? 63 : 127 }

    public static func < (a: KernelISA, b: KernelISA) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The cap from `KVVISION_ISA` (nil when unset or empty).
    public static func cap(environment: [String: String] = ProcessInfo.processInfo.environment) throws(TensorError) -> KernelISA? {
        guard let raw = environment[environmentKey]?.trimmingCharacters(in: .whitespaces).lowercased(), !raw.isEmpty else { return nil }
        guard let isa = KernelISA(rawValue: raw) else {
            throw .kernelISA(setting: "\(environmentKey)=\(raw)", problem: "unknown instruction set (one of \(allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard isa.supported else {
            throw .kernelISA(setting: "\(environmentKey)=\(raw)", problem: "this CPU cannot run \(raw) kernels")
        }
        return isa
    }

    /// The int8 kernel set to use: the best supported one at or below `cap`.
    public static func int8(cap: KernelISA?) -> KernelISA {
        allCases.filter { $0.hasInt8 && $0.supported && $0 <= (cap ?? .avx512BF16) }.max() ?? .reference
    }

    /// The bf16 kernel set to use: `avx512BF16` when supported and allowed by `cap`, else `reference`.
    public static func bf16(cap: KernelISA?) -> KernelISA {
        KernelISA.avx512BF16.supported && (cap ?? .avx512BF16) >= .avx512BF16 ? .avx512BF16 : .reference
    }

    /// The process's choice (CPU features and `KVVISION_ISA`), made once at first use.
    public static func selected() throws(TensorError) -> (int8: KernelISA, bf16: KernelISA) {
        try selection.get()
    }

    private static let selection: Result<(int8: KernelISA, bf16: KernelISA), TensorError> = {
        do throws(TensorError) {
            let c = try cap()
            return .success((int8(cap: c), bf16(cap: c)))
        } catch {
            return .failure(error)
        }
    }()
}
