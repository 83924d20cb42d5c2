/**
 * PNG pictures drawn in code (book covers for the demo shop and the tests): RGB, one deflate stream,
 * no dependency. A cover is a coloured page with a spine, a band and a few bars standing for its title.
 */
import { deflateSync } from 'node:zlib'

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes: Buffer): number {
  let c = 0xffffffff
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] as number) ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data])
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(body))
  return Buffer.concat([len, body, crc])
}

export type Rgb = readonly [number, number, number]

/** Encodes width × height pixels given by `pixel(x, y)` as a PNG file. */
export function encodePng(width: number, height: number, pixel: (x: number, y: number) => Rgb): Buffer {
  const raw = Buffer.alloc((width * 3 + 1) * height)
  let o = 0
  for (let y = 0; y < height; y++) {
    raw[o++] = 0 // filter: none
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y)
      raw[o++] = r
      raw[o++] = g
      raw[o++] = b
    }
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(width, 0)
  header.writeUInt32BE(height, 4)
  header.set([8, 2, 0, 0, 0], 8) // 8 bits, RGB, deflate, no filter choice, no interlace
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const COVER_COLOURS: readonly [Rgb, Rgb][] = [
  [
    [31, 78, 95],
    [242, 193, 78],
  ],
  [
    [91, 42, 134],
    [244, 214, 204],
  ],
  [
    [46, 111, 64],
    [245, 241, 227],
  ],
  [
    [140, 47, 57],
    [251, 233, 208],
  ],
  [
    [39, 76, 119],
    [231, 236, 239],
  ],
  [
    [107, 66, 38],
    [246, 231, 193],
  ],
]

/** A 180 × 270 cover; `seed` picks its colours and the length of its title bars. */
export function coverPng(seed: number): Buffer {
  const [bg, fg] = COVER_COLOURS[seed % COVER_COLOURS.length] as [Rgb, Rgb]
  const bars = [0, 1, 2].map((i) => 60 + ((seed * (i + 7) * 37) % 90))
  return encodePng(180, 270, (x, y) => {
    if (x < 10) return fg
    if (y >= 30 && y < 36 && x >= 24 && x < 84) return fg
    for (let i = 0; i < 3; i++) {
      const top = 60 + i * 28
      if (y >= top && y < top + 14 && x >= 24 && x < 24 + (bars[i] as number)) return fg
    }
    if (y >= 230 && y < 238 && x >= 24 && x < 110) return fg
    return bg
  })
}
