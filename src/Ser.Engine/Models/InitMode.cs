namespace Ser.Engine.Models;

/// <summary>Which initialisation <see cref="Training.Executor.InitializeParameters"/> draws (<see cref="ParameterInit"/>).</summary>
public enum InitMode
{
    /// <summary>The documented initialisation: what training starts from (the classifier's weights are zero).</summary>
    Training,

    /// <summary>
    /// The same, except the classifier's weights are random too, so the logits and every gradient below them are
    /// non-zero: what numeric checks (finite differences, backend and reference equivalence) need.
    /// </summary>
    AllPathsLive,
}
