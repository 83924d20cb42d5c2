import type { NewListing } from '../../src/repositories/listings.ts'

/**
 * A synthetic catalogue: deterministic (seeded) listings with plausible Chinese titles, authors, tags
 * and intros, for tests and the search benchmark. Word frequencies are skewed (a few words and tags
 * are common, most are rare), as in a real shop.
 */

const split = (s: string) => s.split(/\s+/).filter((w) => w !== '')

const TITLE_NOUNS = split(`
  心灵 城市 河流 山海 故乡 童年 岁月 时光 星空 海洋 森林 沙漠 草原 花园 庭院 灯火 长夜 黎明 黄昏 风雨
  江湖 帝国 王朝 文明 战争 和平 革命 秩序 自由 梦想 记忆 孤独 爱情 友谊 家族 父亲 母亲 少年 女孩 旅人
  商人 医生 诗人 画家 侦探 将军 皇帝 宰相 农民 工人 机器 算法 数据 宇宙 量子 基因 细胞 大脑 语言 文字
  哲学 历史 经济 政治 社会 心理 艺术 音乐 电影 建筑 设计 管理 投资 金融 市场 战略 创新 教育 科学 数学
  物理 化学 生物 地理 天文 考古 民俗 美食 茶道 园林 瓷器 丝绸 长城 运河 故宫 敦煌 西域 江南 岭南 塞北
`)
const TITLE_ADJS = split(`
  美丽 沉默 遥远 古老 年轻 明亮 黑色 白色 红色 蓝色 温柔 勇敢 寂静 漫长 短暂 伟大 平凡 神秘 隐秘 失落
  永恒 破碎 燃烧 流动 看不见的 最后的 第一个 被遗忘的 通往 走向
`)
const TITLE_SUFFIXES = split(
  `史 传 记 论 简史 笔记 手记 札记 全集 文集 入门 导论 原理 十讲 漫谈 回忆录 故事 之歌 之旅 研究`,
)
const SERIES = ['（上下）', '（全三册）', '（修订版）', '（第二版）', '：插图本', '（典藏版）']
const LATIN = split(`Python Java Linux SQL Web AI Go Rust Excel Photoshop Kotlin Docker`)
const TAGS = split(`
  小说 历史 文学 中国 经典 传记 外国文学 哲学 散文 管理 心理学 社会学 经济学 童年 儿童文学 漫画 日本
  美国 英国 法国 科普 编程 计算机 互联网 投资 理财 艺术 设计 电影 音乐 旅行 游记 随笔 诗歌 古典文学
  武侠 推理 悬疑 科幻 奇幻 青春 爱情 成长 励志 教育 政治 军事 宗教 建筑 摄影 绘本 童话 历史小说 人物传记
  中国历史 近代史 古代史 明朝 唐朝 宋朝 民国 文化 国学 古籍 二战 商业 创业 营销 数学 物理 天文 生物
  医学 健康 美食 烹饪 生活 家庭 女性 人性 社会 思想 逻辑 语言学 考古 人类学 地理 自然 环保 动物
`)
const SURNAMES = split(
  `王 李 张 刘 陈 杨 黄 赵 周 吴 徐 孙 马 朱 胡 郭 何 林 高 罗 郑 梁 谢 宋 唐 许 韩 冯 邓 曹`,
)
const GIVEN = split(
  `伟 芳 娜 敏 静 丽 强 磊 洋 艳 勇 军 杰 娟 涛 明 超 秀英 华 慧 建国 晓东 海燕 志远 思齐 子墨 一鸣 文博`,
)
const FOREIGN = [
  ['美', split('约翰·史密斯 玛丽·安德森 詹姆斯·布朗 理查德·费曼 苏珊·桑塔格')],
  ['英', split('乔治·奥威尔 弗吉尼亚·伍尔夫 查尔斯·狄更斯 简·奥斯汀')],
  ['法', split('阿尔贝·加缪 维克多·雨果 西蒙娜·波伏娃')],
  ['日', split('村上春树 东野圭吾 川端康成 夏目漱石')],
  ['德', split('托马斯·曼 赫尔曼·黑塞 马克斯·韦伯')],
] as const
const PUBLISHERS = split(
  `人民文学出版社 中华书局 商务印书馆 三联书店 译林出版社 上海译文出版社 中信出版社 机械工业出版社 北京大学出版社 作家出版社`,
)
const BINDINGS = ['平装', '精装', '平装', '平装', '线装']
const INTRO_TEMPLATES = [
  '本书讲述了{n}与{n}之间的故事，展现了{a}的{n}。',
  '作者以{a}的笔触，描绘了{n}中的{n}。',
  '这是一部关于{n}的{t}作品，被誉为{t}领域的经典。',
  '全书分为若干章节，从{n}谈到{n}，深入浅出。',
  '{n}是什么？{n}又意味着什么？作者给出了{a}的回答。',
  '书中收录了大量关于{n}和{n}的珍贵资料。',
  '适合对{t}和{t}感兴趣的读者阅读。',
]

/** A small, fast, seeded pseudo-random generator (mulberry32). */
export class Rng {
  private s: number
  constructor(seed: number) {
    this.s = seed >>> 0
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)] as T
  }
  /** Skewed towards the start of the list (roughly Zipf-like). */
  skewed<T>(xs: readonly T[]): T {
    return xs[Math.floor(xs.length * this.next() ** 2.5)] as T
  }
}

export interface SyntheticOptions {
  seed?: number
  /** Store ids the listings are spread over (round robin). */
  storeIds: readonly string[]
  /** Book ids are `${prefix}${n}`. */
  idPrefix?: string
}

function title(r: Rng): string {
  const form = r.int(10)
  const noun = () => r.skewed(TITLE_NOUNS)
  let t: string
  if (form < 3) t = `${r.pick(TITLE_ADJS)}的${noun()}`
  else if (form < 6) t = `${noun()}${r.pick(TITLE_SUFFIXES)}`
  else if (form < 8) t = `${noun()}与${noun()}`
  else if (form < 9) t = `${r.pick(LATIN)}${noun()}${r.pick(TITLE_SUFFIXES)}`
  else t = `${r.pick(TITLE_ADJS)}${noun()}${r.pick(TITLE_SUFFIXES)}`
  return r.int(8) === 0 ? `${t}${r.pick(SERIES)}` : t
}

function author(r: Rng): string | null {
  const k = r.int(10)
  if (k === 0) return null
  if (k < 3) {
    const [country, names] = r.pick(FOREIGN)
    return `[${country}] ${r.pick(names)}`
  }
  return `${r.pick(SURNAMES)}${r.pick(GIVEN)}`
}

function intro(r: Rng, tags: readonly string[]): string {
  const n = 2 + r.int(4)
  const parts: string[] = []
  for (let i = 0; i < n; i++)
    parts.push(
      r
        .pick(INTRO_TEMPLATES)
        .replace(/\{n\}/g, () => r.skewed(TITLE_NOUNS))
        .replace(/\{a\}/g, () => r.pick(TITLE_ADJS))
        .replace(/\{t\}/g, () => r.pick(tags)),
    )
  return parts.join('')
}

/** The n-th synthetic listing (independent of the others: any range can be generated on its own). */
export function syntheticListing(n: number, opts: SyntheticOptions): NewListing {
  const r = new Rng(((opts.seed ?? 1) * 0x9e3779b1 + n * 0x85ebca6b) >>> 0)
  const tagSet = new Set<string>()
  const tagCount = 3 + r.int(6)
  while (tagSet.size < tagCount) tagSet.add(r.skewed(TAGS))
  const tags = [...tagSet]
  const year = 1950 + r.int(75)
  const month = 1 + r.int(12)
  return {
    storeId: opts.storeIds[n % opts.storeIds.length] as string,
    bookId: `${opts.idPrefix ?? 'syn'}${n}`,
    title: title(r),
    author: author(r),
    publisher: r.pick(PUBLISHERS),
    originalTitle: null,
    translator: null,
    pubYear: r.int(20) === 0 ? null : r.int(3) === 0 ? String(year) : `${year}-${month}`,
    pages: 80 + r.int(900),
    price: 500 + r.int(20_000),
    binding: r.pick(BINDINGS),
    isbn: String(9_787_000_000_000 + r.int(999_999_999)),
    authorIntro: null,
    bookIntro: intro(r, tags),
    content: r.int(2) === 0 ? null : `第一章 ${r.skewed(TITLE_NOUNS)}\n第二章 ${r.skewed(TITLE_NOUNS)}`,
    tags,
    extra: { currency_unit: '元' },
    stockLevel: r.int(5) === 0 ? 0 : 1 + r.int(50),
  }
}

/** Vocabulary the benchmark draws its queries from. */
export const VOCABULARY = { nouns: TITLE_NOUNS, tags: TAGS, latin: LATIN, surnames: SURNAMES }
