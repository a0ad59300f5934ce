/**
 * kind releases and the node images each was built with, pinned by digest. kind supports an image
 * only with the kind release that built it; other pairings are best effort
 * (kubernetes-sigs/kind site/content/docs/design/node-image.md).
 *
 * Sources:
 * - Default image per release: kubernetes-sigs/kind@<tag> pkg/apis/config/defaults/image.go
 *   (read at v0.29.0, v0.30.0, v0.31.0 and v0.32.0; the kind mirror of 2026-08-22 has no v0.33.0
 *   tag, only v0.33.0-alpha, whose image.go still names v1.36.1).
 * - Every image of v0.29.0 to v0.32.0 with its digest, as listed in the release notes:
 *   kubernetes-sigs/cluster-api@71295549b1 (main, 2026-07-07) test/infrastructure/kind/mapper.go;
 *   the default image of each tagged release agrees with image.go.
 * - v0.33.0 is in neither mirror (cluster-api's mapper.go stops at v0.32.0), so its row is
 *   `unverified`: the four digests are as a Renovate pull request quotes the release notes
 *   (polarsquad/krops#112, 2026-08-31: "Images pre-built for this release") and as third-party
 *   repositories pin them next to kind v0.33.0; kubernetes-sigs/kind#4248 (default image
 *   v1.37.0) names the same default. The plan and the matrix say when they rely on it.
 * - Release dates: the tag's commit date; v0.33.0 (untagged here): kubernetes-sigs/kind#4248 was
 *   approved on 2026-08-26 and MediaMarktSaturn/helm-charts#276 links the release on 2026-08-27,
 *   so 2026-08-26, give or take a day (not 2026-09-16, the day of a comment on #4248 about the
 *   release text).
 */
export interface KindRelease {
  version: string;
  date: string;
  /** True when the release is tagged in the kind repository mirror. */
  tagged: boolean;
  /**
   * Set when the row is not read from kind's or cluster-api's repository: what it rests on. The
   * plan and the matrix repeat it wherever they use the row.
   */
  unverified?: string;
  /** The image `kind create cluster` uses without --image. */
  defaultImage: string;
  /** kindest/node images built for this release, newest Kubernetes first. */
  images: readonly string[];
}

export const KIND_RELEASES: readonly KindRelease[] = [
  {
    version: 'v0.29.0',
    date: '2025-05-21',
    tagged: true,
    defaultImage:
      'kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f',
    images: [
      'kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f',
      'kindest/node:v1.32.5@sha256:e3b2327e3a5ab8c76f5ece68936e4cafaa82edf58486b769727ab0b3b97a5b0d',
      'kindest/node:v1.31.9@sha256:b94a3a6c06198d17f59cca8c6f486236fa05e2fb359cbd75dabbfc348a10b211',
      'kindest/node:v1.30.13@sha256:397209b3d947d154f6641f2d0ce8d473732bd91c87d9575ade99049aa33cd648',
    ],
  },
  {
    version: 'v0.30.0',
    date: '2025-08-27',
    tagged: true,
    defaultImage:
      'kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a',
    images: [
      'kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a',
      'kindest/node:v1.33.4@sha256:25a6018e48dfcaee478f4a59af81157a437f15e6e140bf103f85a2e7cd0cbbf2',
      'kindest/node:v1.32.8@sha256:abd489f042d2b644e2d033f5c2d900bc707798d075e8186cb65e3f1367a9d5a1',
      'kindest/node:v1.31.12@sha256:0f5cc49c5e73c0c2bb6e2df56e7df189240d83cf94edfa30946482eb08ec57d2',
    ],
  },
  {
    version: 'v0.31.0',
    date: '2025-12-17',
    tagged: true,
    defaultImage:
      'kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f',
    images: [
      'kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f',
      'kindest/node:v1.34.3@sha256:08497ee19eace7b4b5348db5c6a1591d7752b164530a36f855cb0f2bdcbadd48',
      'kindest/node:v1.33.7@sha256:d26ef333bdb2cbe9862a0f7c3803ecc7b4303d8cea8e814b481b09949d353040',
      'kindest/node:v1.32.11@sha256:5fc52d52a7b9574015299724bd68f183702956aa4a2116ae75a63cb574b35af8',
      'kindest/node:v1.31.14@sha256:6f86cf509dbb42767b6e79debc3f2c32e4ee01386f0489b3b2be24b0a55aac2b',
    ],
  },
  {
    version: 'v0.32.0',
    date: '2026-06-02',
    tagged: true,
    defaultImage:
      'kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5',
    images: [
      'kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5',
      'kindest/node:v1.35.5@sha256:ce977ae6d65918d0b58a5f8b5e940429c2ce42fa3a5619ec2bbc60b949c0ac95',
      'kindest/node:v1.34.8@sha256:02722c2dedddcfc00febf5d27fbeb9b7b2c14294c82109ff4a85d89ac9ba3256',
      'kindest/node:v1.33.12@sha256:3f5c8443c620245e4d355cfe09e96a91ead32ceaa569d3f1ca9edf0cb2fe2ff4',
    ],
  },
  {
    version: 'v0.33.0',
    date: '2026-08-26',
    tagged: false,
    unverified:
      'kind v0.33.0 is not tagged in the kind mirror and not in cluster-api’s mapper.go: its digests are as a Renovate PR quotes the release notes (polarsquad/krops#112), its date about 2026-08-26',
    defaultImage:
      'kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5',
    images: [
      'kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5',
      'kindest/node:v1.36.4@sha256:099e049362a1526b2db71494e1947aae99bd16290d7c895f2b7ea312e3cbfaed',
      'kindest/node:v1.35.8@sha256:07b2536e30b803ed61d1677a79df6115f798ce64c80f9e22f6ed45afd09323c0',
      'kindest/node:v1.34.11@sha256:44e222ee2132dab25ff87301682f89eb82c7880ea3a1bf543bfe9708fd08d67d',
    ],
  },
];

export interface NodeImage {
  /** Repository path without registry, e.g. kindest/node. */
  repository: string;
  /** "1.34.0" */
  kubernetes: string;
  /** 34 */
  kubernetesMinor: number;
  digest: string;
}

/** Splits `[registry/]kindest/node:v1.34.0@sha256:<hex>`; undefined when not of that form. */
export function parseNodeImage(ref: string): NodeImage | undefined {
  const m = /^(.+):v(\d+)\.(\d+)\.(\d+)@(sha256:[a-f0-9]{64})$/.exec(ref);
  if (!m) return undefined;
  return {
    repository: m[1] ?? '',
    kubernetes: `${m[2]}.${m[3]}.${m[4]}`,
    kubernetesMinor: m[2] === '1' ? Number(m[3]) : NaN,
    digest: m[5] ?? '',
  };
}

/** The kind release whose release notes list this exact image digest, if any. */
export function kindReleaseOf(image: string): { release: KindRelease; listed: string } | undefined {
  const parsed = parseNodeImage(image);
  if (!parsed) return undefined;
  for (const release of KIND_RELEASES)
    for (const listed of release.images) {
      const l = parseNodeImage(listed);
      if (l && l.digest === parsed.digest && l.kubernetes === parsed.kubernetes) return { release, listed };
    }
  return undefined;
}

/**
 * The image to use for a Kubernetes minor: from the newest kind release that lists one, or from
 * `kind` when given. Undefined when no pinned release provides that minor.
 */
export function imageForMinor(
  minor: number,
  kind?: string,
): { release: KindRelease; image: string } | undefined {
  const releases =
    kind === undefined ? [...KIND_RELEASES].reverse() : KIND_RELEASES.filter((r) => r.version === kind);
  for (const release of releases) {
    const image = release.images.find((i) => parseNodeImage(i)?.kubernetesMinor === minor);
    if (image !== undefined) return { release, image };
  }
  return undefined;
}
