"""Meta-World v3 on the CPU (EGL): environments with LeRobot's camera protocol, and scripted experts.

Demos, closed-loop evaluation and the LAM's cross-embodiment probe all step the same `SimEnv`, so
what a policy is trained on and what it is judged by come from one place. Rendered images come out
upside down; they are flipped here.
"""

from __future__ import annotations

import functools
import os
import warnings
from dataclasses import dataclass

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")  # must precede the first mujoco import
# Meta-World's spaces and experts warn on every step about bounds we cannot change
warnings.filterwarnings("ignore", module=r"gymnasium\..*")
warnings.filterwarnings("ignore", message="Constant.s. may be too high")

STATE_KEY = "observation.state"
ACTION_KEY = "action"
STATE_NAMES = ["ee_x", "ee_y", "ee_z", "gripper"]
ACTION_NAMES = ["dx", "dy", "dz", "gripper"]
FPS = 80  # Meta-World's control rate (timestep 0.0025 s, frame skip 5)
MAX_STEPS = 500  # the environments' own step cap
# LeRobot's protocol moves corner2 closer to the table, so goals and objects are a few pixels wide
CORNER2_POS = (0.75, 0.075, 0.7)

MT10 = (
    "reach-v3",
    "push-v3",
    "pick-place-v3",
    "door-open-v3",
    "drawer-open-v3",
    "drawer-close-v3",
    "button-press-topdown-v3",
    "peg-insert-side-v3",
    "window-open-v3",
    "window-close-v3",
)
# LeRobot's difficulty groups (lerobot/envs/metaworld_config.json)
_GROUPS = {
    "easy": "button-press button-press-topdown button-press-topdown-wall button-press-wall dial-turn door-close "
    "door-lock door-open door-unlock drawer-close drawer-open faucet-close faucet-open handle-press "
    "handle-press-side handle-pull handle-pull-side lever-pull plate-slide plate-slide-back "
    "plate-slide-back-side plate-slide-side reach reach-wall window-close window-open peg-unplug-side",
    "medium": "basketball bin-picking box-close coffee-pull coffee-push hammer peg-insert-side push-wall soccer "
    "sweep sweep-into",
    "hard": "assembly hand-insert pick-out-of-hole pick-place push push-back",
    "very_hard": "shelf-place disassemble stick-pull stick-push pick-place-wall",
}
GROUP = {f"{task}-v3": group for group, tasks in _GROUPS.items() for task in tasks.split()}
INSTRUCTIONS = {
    "reach-v3": "reach the red goal",
    "push-v3": "push the puck to the goal",
    "pick-place-v3": "pick up the puck and place it at the goal",
    "door-open-v3": "open the door",
    "drawer-open-v3": "open the drawer",
    "drawer-close-v3": "close the drawer",
    "button-press-topdown-v3": "press the button from the top",
    "peg-insert-side-v3": "insert the peg into the hole from the side",
    "window-open-v3": "slide the window open",
    "window-close-v3": "slide the window closed",
}


def image_key(camera: str) -> str:
    return f"observation.images.{camera}"


def task_id(name: str) -> str:
    """``reach`` or ``reach-v3`` -> ``reach-v3``; an unknown name is an error listing the known ones."""
    task = name if name.endswith("-v3") else f"{name}-v3"
    if task not in GROUP:
        raise ValueError(f"unknown Meta-World task {name!r}; known: {', '.join(sorted(GROUP))}")
    return task


def task_ids(tasks: tuple[str, ...]) -> tuple[str, ...]:
    """Config validator for a task list (``AfterValidator(task_ids)``): every name normalised or refused."""
    return tuple(task_id(t) for t in tasks)


def instruction(task: str) -> str:
    task = task_id(task)
    return INSTRUCTIONS.get(task, task.removesuffix("-v3").replace("-", " "))


@dataclass
class Step:
    observation: dict[str, np.ndarray]  # image_key(camera) (H, W, 3) uint8 upright, STATE_KEY (4,) float32
    reward: float
    success: bool
    truncated: bool  # the step cap was reached


class SimEnv:
    """One Meta-World task, seeded: the same seed gives bit-identical states and images."""

    def __init__(self, task: str, seed: int, size: int = 128, camera: str = "corner2", max_steps: int = MAX_STEPS):
        import gymnasium as gym
        import metaworld  # noqa: F401 - registers the Meta-World environments
        import mujoco

        self.task, self.seed, self.max_steps = task_id(task), seed, max_steps
        self.image_key = image_key(camera)
        # the task variation (object and goal positions) is chosen by the seed given to make
        self.env = gym.make(
            "Meta-World/MT1",
            env_name=self.task,
            render_mode="rgb_array",
            camera_name=camera,
            width=size,
            height=size,
            seed=seed,
        )
        model = self.env.unwrapped.model
        if camera == "corner2":
            model.cam_pos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)] = CORNER2_POS
        # fast CPU rendering: no anti-aliasing, shadows or reflections (set before the first render)
        model.vis.quality.offsamples = 0
        model.light_castshadow[:] = 0
        model.mat_reflectance[:] = 0
        self._flip = (slice(None, None, -1), slice(None, None, -1)) if camera == "corner2" else (slice(None, None, -1),)
        self._state: np.ndarray | None = None
        self.steps = 0

    def _observe(self, state: np.ndarray) -> dict[str, np.ndarray]:
        self._state = state
        image = np.ascontiguousarray(self.env.render()[self._flip])
        return {self.image_key: image, STATE_KEY: np.asarray(state[:4], np.float32)}

    def reset(self) -> dict[str, np.ndarray]:
        state, _ = self.env.reset(seed=self.seed)
        self.steps = 0
        return self._observe(state)

    def step(self, action: np.ndarray) -> Step:
        action = np.clip(np.asarray(action, np.float64), -1, 1)
        state, reward, _, truncated, info = self.env.step(action)
        self.steps += 1
        return Step(
            self._observe(state), float(reward), bool(info.get("success", 0)), truncated or self.steps >= self.max_steps
        )

    def full_state(self) -> np.ndarray:
        """The 39-d observation (object and goal positions included): for the scripted expert only."""
        return self._state

    def close(self) -> None:
        self.env.close()


def expert(task: str):
    """Meta-World's scripted expert for ``task``: ``expert(task).get_action(full_state)``."""
    from metaworld.policies import ENV_POLICY_MAP

    return ENV_POLICY_MAP[task_id(task)]()


@dataclass
class Rollout:
    task: str
    frames: np.ndarray  # (T, H, W, 3) uint8, upright
    states: np.ndarray  # (T, 4): end-effector position and gripper opening
    actions: np.ndarray  # (T, 4): end-effector dx, dy, dz and gripper, clipped to [-1, 1]
    success: bool


def expert_rollout(
    task: str, seed: int, steps: int = MAX_STEPS, size: int = 128, camera: str = "corner2", until_success: bool = True
) -> Rollout:
    """One scripted-expert episode; with ``until_success`` it ends at the first successful step."""
    env = SimEnv(task, seed, size, camera, max_steps=steps)
    try:
        obs, scripted = env.reset(), expert(task)
        frames, states, actions, success = [], [], [], False
        while True:
            action = np.clip(scripted.get_action(env.full_state()), -1, 1).astype(np.float32)
            frames.append(obs[env.image_key])
            states.append(obs[STATE_KEY])
            actions.append(action)
            step = env.step(action)
            obs, success = step.observation, success or step.success
            if (success and until_success) or step.truncated:
                break
    finally:
        env.close()
    return Rollout(env.task, np.stack(frames), np.stack(states), np.stack(actions), success)


@functools.lru_cache(maxsize=16)  # rendering dominates; the model and its ablation share rollouts
def scripted_rollout(task: str, seed: int, steps: int = 60, size: int = 128, camera: str = "corner") -> Rollout:
    """A fixed-length expert rollout (the LAM's robot-action probe)."""
    return expert_rollout(task, seed, steps, size, camera, until_success=False)
