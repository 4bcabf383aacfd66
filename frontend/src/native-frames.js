/**
 * Frames in a native (uncompressed) little endian transfer syntax (PS3.5 A.1, A.2) made
 * into images on the main thread: the "decode" is a typed-array view of the bytes, so the
 * round trip to the dicom-image-loader's worker (a structured clone each way, then
 * ``setPixelDataType`` copying the answer once more) costs more than the work. The image
 * is the one the loader's ``createImage`` makes for such a frame (same pixel array type,
 * Modality LUT rescale applied as its pre-scaling does, same fields from the same
 * metadata modules); anything else (colour, other bit depths, PET/RT Dose scaling,
 * rescale slopes that are not whole positive numbers, values the loader's own typing would
 * wrap) returns null and goes to ``createImage``. tests/browser/test_viewer_native.py
 * compares the two paths field by field and pixel by pixel.
 */
import { Enums, metaData, utilities } from '@cornerstonejs/core';
import { getImageFrame } from '@cornerstonejs/dicom-image-loader';
import loaderImageLoader from '@cornerstonejs/dicom-image-loader/imageLoader';

const NATIVE = new Set(['1.2.840.10008.1.2', '1.2.840.10008.1.2.1']);
const { MetadataModules } = Enums;

/** The loader's typed array for decoded values in [min, max] (its getPixelDataTypeFromMinMax). */
function pixelArrayType(min, max) {
  if (Number.isInteger(min) && Number.isInteger(max)) {
    if (min >= 0) {
      if (max <= 255) return Uint8Array;
      if (max <= 65535) return Uint16Array;
      if (max <= 4294967295) return Uint32Array;
    } else if (min >= -128 && max <= 127) {
      return Int8Array;
    } else if (min >= -32768 && max <= 32767) {
      return Int16Array;
    }
  }
  return Float32Array;
}

/** True when every value in [min, max] is held by ``Type`` unchanged. */
function holds(Type, min, max) {
  if (Type === Float32Array) return false; // the loader's copy into floats is exact, but keep to integers
  const bits = Type.BYTES_PER_ELEMENT * 8;
  const signed = Type === Int8Array || Type === Int16Array;
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return min >= lo && max <= hi;
}

/**
 * ``out[i] = stored[i] * slope + intercept`` (stored values sign-extended by ``shift`` bits
 * when not 0); returns the stored range [min, max].
 */
function rescale(stored, out, slope, intercept, shift) {
  const n = stored.length;
  let min = shift ? (stored[0] << shift) >> shift : stored[0];
  let max = min;
  if (shift) {
    for (let i = 0; i < n; i += 1) {
      const v = (stored[i] << shift) >> shift;
      if (v < min) min = v;
      else if (v > max) max = v;
      out[i] = v * slope + intercept;
    }
  } else {
    for (let i = 0; i < n; i += 1) {
      const v = stored[i];
      if (v < min) min = v;
      else if (v > max) max = v;
      out[i] = v * slope + intercept;
    }
  }
  return [min, max];
}

/** The stored values of a frame as a typed array, or null when the bytes do not fit the frame. */
function storedValues(frame, bytes) {
  const n = frame.rows * frame.columns;
  if (frame.bitsAllocated === 8 && frame.pixelRepresentation === 0) {
    return bytes.length === n ? bytes : null;
  }
  if (frame.bitsAllocated !== 16 || bytes.length !== 2 * n) return null;
  const aligned = bytes.byteOffset % 2 === 0 ? bytes : bytes.slice();
  const Type = frame.pixelRepresentation === 1 ? Int16Array : Uint16Array;
  return new Type(aligned.buffer, aligned.byteOffset, n);
}

/**
 * The image ``createImage`` would make of this frame, or null when this module does not
 * cover it. ``bytes`` is only read.
 * @param {string} imageId
 * @param {Uint8Array} bytes  the frame's pixel data
 * @param {string} transferSyntax
 */
export function nativeImage(imageId, bytes, transferSyntax) {
  if (!NATIVE.has(transferSyntax)) return null;
  const started = Date.now();
  const frame = /** @type {any} */ (getImageFrame(imageId));
  const mono = frame.photometricInterpretation === 'MONOCHROME2' || frame.photometricInterpretation === 'MONOCHROME1';
  if (!mono || frame.samplesPerPixel !== 1) return null;
  const stored = storedValues(frame, bytes);
  if (!stored) return null;

  const scaling = loaderImageLoader.getScalingParameters(metaData, imageId);
  let slope = 1;
  let intercept = 0;
  if (scaling) {
    if (scaling.modality === 'PT' || scaling.modality === 'RTDOSE') return null;
    ({ rescaleSlope: slope, rescaleIntercept: intercept } = scaling);
    if (!Number.isInteger(slope) || !Number.isInteger(intercept) || slope <= 0) return null;
  }
  // Signed values narrower than their 16 bits: sign-extended from Bits Stored, as the loader does.
  const shift = frame.pixelRepresentation === 1 && frame.bitsStored < 16 ? 32 - frame.bitsStored : 0;
  const n = stored.length;
  // One pass in the common case: rescaled into the type the loader will most likely pick,
  // the stored range noted on the way; a second pass only when the range asks for another.
  const guess = scaling ? (intercept < 0 ? Int16Array : Uint16Array) : stored.constructor;
  let pixels = new guess(n);
  const [min, max] = rescale(stored, pixels, slope, intercept, shift);
  const low = slope * min + intercept;
  const high = slope * max + intercept;
  const Type = pixelArrayType(low, high);
  // The loader copies the stored values into this type before rescaling them.
  if (scaling && !holds(Type, min, max)) return null;
  if (Type !== guess) {
    pixels = new Type(n);
    rescale(stored, pixels, slope, intercept, shift);
  }

  frame.pixelData = pixels;
  frame.pixelDataLength = n;
  frame.smallestPixelValue = low;
  frame.largestPixelValue = high;
  if (scaling) frame.preScale = { enabled: true, scalingParameters: scaling, scaled: true };
  frame.decodeTimeInMS = Date.now() - started;
  return imageOf(imageId, frame);
}

/** ``createImage``'s image object for a decoded single-sample frame. */
function imageOf(imageId, frame) {
  const plane = metaData.get(MetadataModules.IMAGE_PLANE, imageId) || {};
  const voi = metaData.get(MetadataModules.VOI_LUT, imageId) || {};
  const modality = metaData.get(MetadataModules.MODALITY_LUT, imageId) || {};
  const sopCommon = metaData.get(MetadataModules.SOP_COMMON, imageId) || {};
  const calibration = metaData.get(MetadataModules.CALIBRATION, imageId) || {};
  const voxelManager = utilities.VoxelManager.createImageVoxelManager({
    scalarData: frame.pixelData,
    width: frame.columns,
    height: frame.rows,
    numberOfComponents: 1,
  });
  const image = {
    imageId,
    dataType: frame.pixelData.constructor.name,
    color: false,
    calibration,
    columnPixelSpacing: plane.columnPixelSpacing,
    columns: frame.columns,
    height: frame.rows,
    preScale: frame.preScale,
    intercept: modality.rescaleIntercept ? modality.rescaleIntercept : 0,
    slope: modality.rescaleSlope ? modality.rescaleSlope : 1,
    invert: frame.photometricInterpretation === 'MONOCHROME1',
    minPixelValue: frame.smallestPixelValue,
    maxPixelValue: frame.largestPixelValue,
    rowPixelSpacing: plane.rowPixelSpacing,
    rows: frame.rows,
    sizeInBytes: frame.pixelData.byteLength,
    width: frame.columns,
    windowCenter: voi.windowCenter ? voi.windowCenter[0] : undefined,
    windowWidth: voi.windowWidth ? voi.windowWidth[0] : undefined,
    voiLUTFunction: (voi.voiLUTFunction?.length && voi.voiLUTFunction[0]) || voi.voiLutFunction || undefined,
    decodeTimeInMS: frame.decodeTimeInMS,
    floatPixelData: undefined,
    imageFrame: frame,
    voxelManager,
    rgba: false,
    getPixelData: () => frame.pixelData,
    getCanvas: undefined,
    numberOfComponents: 1,
    modalityLUT: undefined,
    voiLUT: undefined,
  };
  if (modality.modalityLUTSequence?.length && loaderImageLoader.isModalityLUTForDisplay(sopCommon.sopClassUID)) {
    image.modalityLUT = modality.modalityLUTSequence[0];
  }
  if (voi.voiLUTSequence?.length) image.voiLUT = voi.voiLUTSequence[0];
  if (image.windowCenter === undefined || image.windowWidth === undefined) {
    const level = utilities.windowLevel.toWindowLevel(frame.smallestPixelValue, frame.largestPixelValue);
    image.windowWidth = level.windowWidth;
    image.windowCenter = level.windowCenter;
  }
  return image;
}
