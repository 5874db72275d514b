export interface NoopActivities {
  noop(): Promise<void>;
}

export const noopActivities: NoopActivities = {
  async noop() {},
};
