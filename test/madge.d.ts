/** The part of madge's API (madge 8 ships no types) that test/layout.test.ts uses. */
declare module "madge" {
  interface MadgeResult {
    /** file -> the files it imports, paths relative to the common base of the inputs */
    obj(): Record<string, string[]>;
    circular(): string[][];
  }
  interface MadgeConfig {
    fileExtensions?: string[];
    tsConfig?: string;
  }
  export default function madge(path: string | string[], config?: MadgeConfig): Promise<MadgeResult>;
}
