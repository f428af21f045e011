"""Python tests of the UniFFI bindings (module `t2ue`, generated from the built library).

Usage: python3 test_python.py BUNDLE_DIR PHOTOS_DIR SCRATCH_DIR   (with the generated t2ue.py and
libt2ue_uniffi.so on sys.path / next to it; ORT_DYLIB_PATH set). Prints
"python: N passed, M failed" and exits non-zero on any failure.
"""
import asyncio
import os
import sys
import traceback

import t2ue

BUNDLE, PHOTOS, SCRATCH = sys.argv[1:4]
passed = failed = 0


def test(fn):
    global passed, failed
    try:
        fn()
        passed += 1
    except Exception:  # noqa: BLE001 - report every failure and go on
        failed += 1
        print(f"FAIL {fn.__name__}", file=sys.stderr)
        traceback.print_exc()
    return fn


def raises(exc_type, needle, call, *args, **kwargs):
    """The call must raise exc_type whose message contains needle."""
    try:
        call(*args, **kwargs)
    except exc_type as e:
        assert needle in str(e), f"{exc_type.__name__} message lacks {needle!r}: {e}"
        return e
    raise AssertionError(f"{call} did not raise {exc_type.__name__}")


engine = t2ue.Engine.open(BUNDLE, t2ue.EngineOptions(intra_threads=1))
key = t2ue.ProtectionKey.generate()


@test
def version_and_info():
    assert t2ue.version()[0].isdigit()
    info = engine.info()
    assert info.bundle_name == "tiny-test", info
    assert info.resolution == 16 and len(info.bundle_id) == 64
    assert info.latent_rule == "key-caption"          # the tiny bundle is format 1
    assert info.active_provider == t2ue.ExecutionProvider.CPU and info.fallback_reason is None
    assert os.path.exists(info.runtime_library)


@test
def keys():
    raw = key.to_bytes()
    assert len(raw) == 32
    again = t2ue.ProtectionKey.from_bytes(raw)
    assert again.fingerprint() == key.fingerprint()
    assert t2ue.ProtectionKey.from_hex(key.to_hex()).to_bytes() == raw
    raises(t2ue.T2ueError.InvalidKey, "invalid protection key", t2ue.ProtectionKey.from_bytes, b"\x00" * 31)
    raises(t2ue.T2ueError, "invalid protection key", t2ue.ProtectionKey.from_hex, "not hex")


@test
def noise_is_deterministic_and_bounded():
    a = engine.make_noise("a cat on a sofa", key)
    b = engine.make_noise("a cat on a sofa", key)
    assert a.resolution() == 16 and len(a.values()) == 3 * 16 * 16
    assert a.values() == b.values()
    assert 0 < a.max_abs() <= 8 / 255 + 1e-6
    other = engine.make_noise("a cat on a sofa", t2ue.ProtectionKey.generate())
    assert other.values() != a.values()


@test
def protect_file():
    out = os.path.join(SCRATCH, "astronaut-py.jpg")
    if os.path.exists(out):
        os.remove(out)
    r = engine.protect_file(os.path.join(PHOTOS, "astronaut.jpg"), out, key, caption="an astronaut")
    assert os.path.getsize(out) == r.output_bytes
    assert r.input_format == t2ue.PhotoFormat.JPEG and 1 <= r.max_abs_change <= 8
    assert r.key_fingerprint == key.fingerprint()
    e = raises(t2ue.T2ueError.WouldOverwrite, "refusing to overwrite", engine.protect_file,
               os.path.join(PHOTOS, "astronaut.jpg"), out, key, caption="an astronaut")
    assert isinstance(e, t2ue.T2ueError)
    r = engine.protect_file(os.path.join(PHOTOS, "astronaut.jpg"), out, key, caption="an astronaut",
                            options=t2ue.ProtectOptions(overwrite=True, format=t2ue.PhotoFormat.PNG))
    assert r.output_format == t2ue.PhotoFormat.PNG


@test
def caption_from_metadata():
    out = os.path.join(SCRATCH, "cat-exif-py.png")
    if os.path.exists(out):
        os.remove(out)
    r = engine.protect_file(os.path.join(PHOTOS, "cat_rotated_exif.jpg"), out, key)
    assert r.caption_from_metadata and r.orientation_applied == 6 and (r.width, r.height) == (60, 90)


@test
def protect_bytes_and_errors():
    data = open(os.path.join(PHOTOS, "chelsea.png"), "rb").read()
    p = engine.protect_bytes(data, key, caption="a tabby cat")
    assert p.bytes[:4] == b"\x89PNG" and p.report.output_bytes == len(p.bytes)
    raises(t2ue.T2ueError.Decode, "could not be decoded", engine.protect_bytes, data[: len(data) // 3], key, "a cat")
    raises(t2ue.T2ueError.UnsupportedFormat, "unsupported", engine.protect_bytes, b"hello, not an image", key, "a cat")
    raises(t2ue.T2ueError.EmptyCaption, "empty", engine.protect_bytes, data, key, "   ")
    raises(t2ue.T2ueError.MissingCaption, "no caption", engine.protect_bytes, data, key)


@test
def pixels():
    w, h, stride = 64, 48, 64 * 3 + 5
    buf = bytes((40 + (i * 7) % 170) for i in range(stride * h))
    p = engine.protect_pixels("a red square", key, buf, w, h, stride, t2ue.PixelLayout.RGB8)
    assert len(p.pixels) == len(buf) and 1 <= p.stats.max_abs_change <= 8
    n = engine.make_noise("a red square", key)
    q = engine.apply_noise(n, buf, w, h, stride, t2ue.PixelLayout.RGB8)
    assert q.pixels == p.pixels
    raises(t2ue.T2ueError.InvalidBuffer, "stride", engine.apply_noise, n, buf, w, h, w * 3 - 1, t2ue.PixelLayout.RGB8)
    raises(t2ue.T2ueError.InvalidBuffer, "bytes", engine.protect_pixels, "a red square", key, buf[:10], w, h, stride, t2ue.PixelLayout.RGB8)


@test
def bundles():
    raises(t2ue.T2ueError.Io, "manifest", t2ue.Engine.open, os.path.join(SCRATCH, "no-such-bundle"))
    names = ["tokenizer.json", "text_encoder.onnx", "image_encoder.onnx", "generator.onnx", "golden.json"]
    files = {n: open(os.path.join(BUNDLE, n), "rb").read() for n in names}
    manifest = open(os.path.join(BUNDLE, "manifest.json"), "rb").read()
    e2 = t2ue.Engine.from_memory(manifest, files)
    assert e2.info().bundle_id == engine.info().bundle_id
    g = bytearray(files["generator.onnx"])
    g[len(g) // 2] ^= 1
    files["generator.onnx"] = bytes(g)
    raises(t2ue.T2ueError.BundleFileMismatch, "generator.onnx", t2ue.Engine.from_memory, manifest, files)


@test
def async_methods():
    async def run():
        out = os.path.join(SCRATCH, "chelsea-async.png")
        if os.path.exists(out):
            os.remove(out)
        r = await engine.protect_file_async(os.path.join(PHOTOS, "chelsea.png"), out, key, caption="a cat")
        assert r.output_bytes == os.path.getsize(out)
        n = await engine.make_noise_async("a cat", key)
        assert n.values() == engine.make_noise("a cat", key).values()
        try:
            await engine.protect_bytes_async(b"garbage bytes", key, caption="a cat")
        except t2ue.T2ueError.UnsupportedFormat as e:
            assert "unsupported" in str(e)
        else:
            raise AssertionError("no exception from protect_bytes_async")
    asyncio.run(run())


@test
def camera_frames():
    n = engine.make_noise("a street at night", key)
    fp = t2ue.FrameProtector(n)
    w, h = 64, 48
    y = t2ue.FramePlane(data=bytes([100]) * (w * h), row_stride=w, pixel_stride=1)
    vu = t2ue.FramePlane(data=bytes([128]) * (w * h // 2), row_stride=w, pixel_stride=2)
    out = fp.protect_frame(t2ue.FrameFormat.NV21, w, h, t2ue.FrameRotation.DEG90, t2ue.YuvRange.FULL, [y, vu])
    assert len(out) == 2 and len(out[0].data) == w * h
    assert sum(b != 100 for b in out[0].data) > w * h // 2
    assert max(abs(b - 100) for b in out[0].data) <= 8
    again = fp.protect_frame(t2ue.FrameFormat.NV21, w, h, t2ue.FrameRotation.DEG90, t2ue.YuvRange.FULL, [y, vu])
    assert again[0].data == out[0].data and again[1].data == out[1].data
    rgba = t2ue.FramePlane(data=bytes(w * h * 4), row_stride=w * 4, pixel_stride=4)
    fp.protect_frame(t2ue.FrameFormat.RGBA8888, w, h, t2ue.FrameRotation.DEG0, t2ue.YuvRange.FULL, [rgba])
    raises(t2ue.T2ueError.InvalidBuffer, "plane", fp.protect_frame, t2ue.FrameFormat.I420, w, h,
           t2ue.FrameRotation.DEG0, t2ue.YuvRange.FULL, [y, vu])
    short = t2ue.FramePlane(data=bytes(10), row_stride=w, pixel_stride=2)
    raises(t2ue.T2ueError.InvalidBuffer, "chroma", fp.protect_frame, t2ue.FrameFormat.NV12, w, h,
           t2ue.FrameRotation.DEG0, t2ue.YuvRange.FULL, [y, short])


print(f"python: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
